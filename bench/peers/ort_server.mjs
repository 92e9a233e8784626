// ONNX Runtime (onnxruntime-node) as a benchmark peer, driven by
// bench/peers/compare.py over stdin/stdout, one JSON request per line:
//   {"op": "load", "model": path, "threads": n}  -> {"ok": true}
//   {"op": "run", "inputs": {name: npyPath}, "output": npyPath|null,
//    "outputs": [npyPath, ...]|absent}          -> {"ms": t}
// Only session.run is timed; the first output is written as .npy when asked
// so that the driver checks ORT's numbers too.
import { createInterface } from "node:readline";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

// onnxruntime-node lives in the build folder (scripts/bench.sh installs it).
const ort = createRequire(process.env.HYBRID_ORT_NODE_MODULES + "/")("onnxruntime-node");

function readNpy(path) {
  const buf = readFileSync(path);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.toString("latin1", 10, 10 + headerLen);
  const shape = header.match(/\(([^)]*)\)/)[1].split(",").filter((s) => s.trim()).map(Number);
  const bytes = buf.buffer.slice(buf.byteOffset + 10 + headerLen, buf.byteOffset + buf.length);
  if (header.includes("'<f4'")) return new ort.Tensor("float32", new Float32Array(bytes), shape);
  if (header.includes("'<i4'")) return new ort.Tensor("int32", new Int32Array(bytes), shape);
  if (header.includes("'<i8'")) return new ort.Tensor("int64", new BigInt64Array(bytes), shape);
  throw new Error(`${path}: only <f4, <i4 and <i8 are supported`);
}

function writeNpy(path, tensor) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${tensor.dims.join(", ")}${tensor.dims.length === 1 ? "," : ""}), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const head = Buffer.alloc(10);
  head.write("\x93NUMPY", 0, "latin1");
  head.writeUInt8(1, 6);
  head.writeUInt8(0, 7);
  head.writeUInt16LE(header.length, 8);
  const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  writeFileSync(path, Buffer.concat([head, Buffer.from(header, "latin1"), data]));
}

let session = null;
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const req = JSON.parse(line);
  try {
    if (req.op === "load") {
      session = await ort.InferenceSession.create(req.model, {
        intraOpNumThreads: req.threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
      });
      console.log(JSON.stringify({ ok: true }));
    } else if (req.op === "run") {
      const feeds = {};
      for (const [name, path] of Object.entries(req.inputs)) feeds[name] = readNpy(path);
      const start = process.hrtime.bigint();
      const out = await session.run(feeds);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (req.output) writeNpy(req.output, out[session.outputNames[0]]);
      // Every output, in order (test-data generators ask for them all).
      (req.outputs || []).forEach((path, i) => writeNpy(path, out[session.outputNames[i]]));
      console.log(JSON.stringify({ ms }));
    } else {
      throw new Error(`unknown request ${req.op}`);
    }
  } catch (e) {
    console.log(JSON.stringify({ error: String(e) }));
  }
}
