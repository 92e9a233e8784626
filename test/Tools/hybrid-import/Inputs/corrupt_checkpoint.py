"""corrupt_checkpoint.py SOURCE OUT KIND: copies the checkpoint folder
SOURCE to OUT (replaced) and breaks it the way KIND names, for the
importer's error tests. Standard library only."""
import json
import os
import shutil
import struct
import sys

source, out, kind = sys.argv[1:4]
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(source, out)
config_path = os.path.join(out, "config.json")
weights = os.path.join(out, "model.safetensors")
config = json.load(open(config_path))


def write_config(**changes):
    config.update(changes)
    json.dump(config, open(config_path, "w"))


def rewrite_header(edit):
    """Applies edit(header dict) and rewrites the file with the same data."""
    blob = open(weights, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    open(weights, "wb").write(struct.pack("<Q", len(text)) + text + blob[8 + n:])


def first(header):
    return header[sorted(k for k in header if k != "__metadata__")[0]]


if kind == "no-config":
    os.remove(config_path)
elif kind == "not-json":
    open(config_path, "w").write("{ not json")
elif kind == "architecture":
    write_config(architectures=["GPT2LMHeadModel"])
elif kind == "rope-scaling":
    write_config(rope_scaling={"rope_type": "yarn", "factor": 8.0})
elif kind == "longrope-factors":
    write_config(rope_scaling={"rope_type": "longrope", "short_factor": [1.0] * 3,
                               "long_factor": [1.0] * 8,
                               "original_max_position_embeddings": 16})
elif kind == "activation":
    write_config(hidden_act="gelu")
elif kind == "heads":
    write_config(num_key_value_heads=3)
elif kind == "negative-layers":
    write_config(num_hidden_layers=-1)
elif kind == "too-many-layers":
    write_config(num_hidden_layers=10 ** 12)
elif kind == "use-nope":
    write_config(sparse_config=dict(config["sparse_config"], use_nope=True))
elif kind == "sparse-stride":
    write_config(sparse_config=dict(config["sparse_config"], kernel_stride=3))
elif kind == "mixer-count":
    write_config(mixer_types=config["mixer_types"][:-1])
elif kind == "mixer-type":
    write_config(mixer_types=["lightning-attn", "mamba2"] + config["mixer_types"][2:])
elif kind == "lightning-scale":
    write_config(lightning_scale="2/d")
elif kind == "lightning-heads":
    write_config(lightning_nh=4, lightning_nkv=3)
elif kind == "router-norm":
    write_config(norm_after_router="sum")
elif kind == "ffn-type":
    write_config(ffn_type="mla_block")
elif kind == "no-weights":
    os.remove(weights)
elif kind == "truncated":
    open(weights, "r+b").truncate(os.path.getsize(weights) - 100)
elif kind == "header-length":
    blob = open(weights, "rb").read()
    open(weights, "wb").write(struct.pack("<Q", 1 << 40) + blob[8:])
elif kind == "past-the-end":
    rewrite_header(lambda h: first(h).update(data_offsets=[0, 1 << 30]))
elif kind == "overlap":
    def overlap(h):
        names = sorted(k for k in h if k != "__metadata__")
        a, b = h[names[0]], h[names[1]]
        size = b["data_offsets"][1] - b["data_offsets"][0]
        b["data_offsets"] = [a["data_offsets"][0], a["data_offsets"][0] + size]
    rewrite_header(overlap)
elif kind == "shape-bytes":
    rewrite_header(lambda h: first(h).update(shape=first(h)["shape"] + [2]))
elif kind == "dtype":
    rewrite_header(lambda h: first(h).update(dtype="F31"))
elif kind == "int-weights":
    rewrite_header(lambda h: h["model.norm.weight"].update(dtype="I32"))
elif kind == "missing-tensor":
    rewrite_header(lambda h: h.pop("model.norm.weight"))
elif kind == "wrong-shape":
    write_config(intermediate_size=config["intermediate_size"] * 2)
elif kind == "shard-escape":
    os.rename(weights, os.path.join(out, "a.safetensors"))
    json.dump({"weight_map": {"model.norm.weight": "../a.safetensors"}},
              open(os.path.join(out, "model.safetensors.index.json"), "w"))
else:
    sys.exit("unknown kind " + kind)
