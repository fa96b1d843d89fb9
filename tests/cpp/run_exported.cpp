// Run a climnn exported model (TorchScript) with libtorch alone, as a C++ coupler would.
//
//   run_exported MODEL.pt INPUT.txt
//
// INPUT.txt: "batch n_in" then batch x n_in physical inputs (row-major, any whitespace).
// Prints the metadata's size ("climnn.json <bytes>"), then "batch n_out" and the outputs,
// one row a line, each value with 9 significant digits (a float32 exactly).
// Built by tests/test_export.py against the installed torch's libtorch.
#include <torch/script.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: run_exported MODEL.pt INPUT.txt\n";
    return 2;
  }
  std::ifstream input(argv[2]);
  int64_t batch = 0, n_in = 0;
  if (!(input >> batch >> n_in) || batch < 1 || n_in < 1) {
    std::cerr << argv[2] << ": expected 'batch n_in' first\n";
    return 2;
  }
  std::vector<float> values(batch * n_in);
  for (float& v : values) {
    if (!(input >> v)) {
      std::cerr << argv[2] << ": fewer than batch x n_in values\n";
      return 2;
    }
  }
  torch::jit::ExtraFilesMap extra{{"climnn.json", ""}};
  torch::jit::script::Module module;
  try {
    module = torch::jit::load(argv[1], torch::kCPU, extra);
  } catch (const c10::Error& err) {
    std::cerr << argv[1] << ": cannot load: " << err.what_without_backtrace() << "\n";
    return 1;
  }
  module.eval();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::from_blob(values.data(), {batch, n_in}, torch::kFloat32);
  torch::Tensor y = module.forward({x}).toTensor().contiguous();
  std::printf("climnn.json %zu\n", extra["climnn.json"].size());
  std::printf("%lld %lld\n", static_cast<long long>(y.size(0)),
              static_cast<long long>(y.size(1)));
  const float* out = y.data_ptr<float>();
  for (int64_t i = 0; i < y.size(0); ++i) {
    for (int64_t j = 0; j < y.size(1); ++j) {
      std::printf(j ? " %.9g" : "%.9g", out[i * y.size(1) + j]);
    }
    std::printf("\n");
  }
  return 0;
}
