// RUN: hybrid-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{parameter 'w' is 16 bytes, but its argument 'tensor<8xf32>' needs 32}}
func.func @wrong_length(%w: tensor<8xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 16>}) {
  return
}

// -----

// expected-error @+1 {{parameter 'w' (argument #0) must be a statically shaped tensor of numbers, not 'tensor<?xf32>'}}
func.func @dynamic(%w: tensor<?xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 16>}) {
  return
}

// -----

// expected-error @+2 {{parameter 'w' file '../w.bin' must not leave the model's folder ('..')}}
func.func @escape(%w: tensor<8xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "../w.bin", offset = 0, length = 32>}) {
  return
}

// -----

// expected-error @+2 {{parameter 'w' file '/w.bin' must be relative to the model's folder}}
func.func @absolute(%w: tensor<8xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "/w.bin", offset = 0, length = 32>}) {
  return
}

// -----

// expected-error @+1 {{'hybrid.parameter' must be a #hybrid.parameter}}
func.func @not_a_parameter(%w: tensor<8xf32> {hybrid.parameter = 3 : i64}) {
  return
}

// -----

// A [4, 50] f32 file (800 bytes) in panels of 32 is tensor<2x4x32xf32>.
func.func @panels(%w: tensor<2x4x32xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      panels = 32>}) {
  return
}

// -----

// 50 columns are 2 panels of 32, not 3.
// expected-error @+1 {{parameter 'w' of 800 bytes in panels of 32 columns cannot be bound to 'tensor<3x4x32xf32>' (expected tensor<ceil(N/32)xKx32> for the file's [K, N])}}
func.func @panels_count(%w: tensor<3x4x32xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      panels = 32>}) {
  return
}

// -----

// expected-error @+1 {{cannot be bound to 'tensor<4x50xf32>'}}
func.func @panels_rank(%w: tensor<4x50xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      panels = 32>}) {
  return
}

// -----

// expected-error @+2 {{parameter 'w' has a negative panel width -32}}
func.func @panels_negative(%w: tensor<4x50xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      panels = -32>}) {
  return
}

// -----

// expected-error @+2 {{parameter 'w' has an invalid permutation [1, 1]}}
func.func @permutation_repeated(%w: tensor<4x50xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      permutation = [1, 1]>}) {
  return
}

// -----

// expected-error @+1 {{parameter 'w' has a permutation of 3 dims for its argument 'tensor<4x50xf32>'}}
func.func @permutation_rank(%w: tensor<4x50xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      permutation = [2, 0, 1]>}) {
  return
}

// -----

// expected-error @+2 {{parameter 'w' has more than one of panels, a permutation and rows}}
func.func @permutation_and_panels(%w: tensor<2x4x32xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      panels = 32, permutation = [1, 0, 2]>}) {
  return
}

// -----

// expected-error @+2 {{parameter 'w' has more than one of panels, a permutation and rows}}
func.func @rows_and_permutation(%w: tensor<50x2xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      permutation = [1, 0], rows = [0, 3]>}) {
  return
}

// -----

// expected-error @+2 {{parameter 'w' has a negative row}}
func.func @rows_negative(%w: tensor<2x50xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      rows = [0, -1]>}) {
  return
}

// -----

// A file of 4 rows of 50 f32 has no row 4.
// expected-error @+1 {{parameter 'w' takes row 4 of a file tensor of 4 rows}}
func.func @rows_past_the_file(%w: tensor<2x50xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      rows = [3, 4]>}) {
  return
}

// -----

// expected-error @+1 {{parameter 'w' of 800 bytes cannot give 3 rows as 'tensor<2x50xf32>'}}
func.func @rows_count(%w: tensor<2x50xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 800,
                      rows = [0, 1, 2]>}) {
  return
}
