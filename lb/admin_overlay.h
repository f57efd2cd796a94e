#pragma once
// Changes an operator made through the admin API (SPEC §8: regions and nodes added or
// removed, backend weight and state), kept apart from the file's config so that both can be
// persisted and re-applied: the running config is always applyOverlay(file, overlay).
//
// Precedence (documented in the README): the overlay applies on top of the file. An overlay
// entry whose subject the file has since changed is dropped — a node added through the API
// that the file now declares under the same name, a patch for a backend the file no longer
// has — so editing the file is always the way back to "what the file says".

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace fiberlb::lb {

struct AddedNode {
  std::string lb;           // LB name
  config::Backend backend;  // name, address, port, region, weight, node_type
};

struct NodeRef {
  std::string lb;
  std::string name;
};

struct BackendPatch {
  std::string lb;
  std::string backend;
  std::optional<int> weight;
  std::optional<config::AdminState> state;
};

struct AdminOverlay {
  std::vector<config::Region> regions_added;
  std::vector<std::string> regions_removed;  // ids of file regions deleted through the API
  std::vector<AddedNode> nodes_added;
  std::vector<NodeRef> nodes_removed;  // file backends deleted through the API
  std::vector<BackendPatch> patches;

  bool empty() const {
    return regions_added.empty() && regions_removed.empty() && nodes_added.empty() &&
           nodes_removed.empty() && patches.empty();
  }
};

// The config to run: `file` with `overlay` applied. Entries of `overlay` that no longer apply
// (see above) are skipped and, when `pruned` is given, removed from it so the state file
// forgets them too. Pure; never fails.
config::Config applyOverlay(const config::Config& file, const AdminOverlay& overlay,
                            AdminOverlay* pruned = nullptr);

}  // namespace fiberlb::lb
