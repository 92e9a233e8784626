//===- LookupDrafter.cpp - Prompt-lookup (n-gram) drafting ----------------===//

#include "hybrid/Generate/Drafter.h"

using namespace hybrid;
using namespace hybrid::generate;

namespace {

class LookupDrafter : public Drafter {
public:
  explicit LookupDrafter(int64_t maxNgram) : maxNgram_(maxNgram) {}

  Status start(const std::vector<int64_t> &) override { return Status(); }

  /// A chain: the tokens after the earliest earlier match of the
  /// context's last n tokens (the longest n that matches), as
  /// transformers' prompt lookup decoding picks them.
  Status propose(int64_t root, const std::vector<int64_t> &history,
                 const TreeShape &shape, DraftTree &tree) override {
    tree = DraftTree();
    tree.add(root, -1);
    std::vector<int64_t> context(history);
    context.push_back(root);
    int64_t len = context.size();
    int64_t want = std::min(shape.size - 1, shape.depth);
    for (int64_t n = std::min(maxNgram_, len - 1); n >= 1 && want > 0; --n) {
      for (int64_t start = 0; start + n < len; ++start) {
        bool match = true;
        for (int64_t j = 0; j < n && match; ++j)
          match = context[start + j] == context[len - n + j];
        if (!match)
          continue;
        int32_t parent = 0;
        for (int64_t j = start + n; j < len && tree.size() <= want; ++j)
          parent = tree.add(context[j], parent);
        return Status();
      }
    }
    return Status();
  }

  Status committed(const std::vector<int64_t> &) override { return Status(); }

private:
  int64_t maxNgram_;
};

} // namespace

std::unique_ptr<Drafter> hybrid::generate::makeLookupDrafter(int64_t maxNgram) {
  return std::make_unique<LookupDrafter>(maxNgram);
}
