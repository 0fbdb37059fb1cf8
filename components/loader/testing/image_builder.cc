// components/loader/testing/image_builder.cc — see image_builder.h.
#include "components/loader/testing/image_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "components/image_format/image_format.h"
#include "components/target/target.h"

namespace kiln_loader_testing {

std::string Tool(const std::string &name) { return "/usr/lib/llvm-22/bin/" + name; }

int Run(const std::string &command, std::string *output) {
  std::string full = command + " 2>&1";
  FILE *pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool ReadFile(const std::string &path, std::string *data) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *data = ss.str();
  return true;
}

bool WriteFile(const std::string &path, const std::string &data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out);
}

std::vector<size_t> FindMagic(const std::string &data) {
  std::string magic(KILN_IMAGE_FORMAT_MAGIC, KILN_IMAGE_FORMAT_MAGIC_SIZE);
  std::vector<size_t> at;
  for (size_t pos = data.find(magic); pos != std::string::npos; pos = data.find(magic, pos + 1)) {
    at.push_back(pos);
  }
  return at;
}

std::vector<Target> GenericHaswell(const std::vector<std::string> &clones) {
  Target t0;
  t0.cpu = "generic";
  t0.march = "x86-64";
  Target t1;
  t1.cpu = "haswell";
  t1.march = "haswell";
  t1.clones = clones;
  return {t0, t1};
}

namespace {

std::string Quote(const std::string &s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

// Runs commands on up to `jobs` threads; returns the first failure's text.
std::string RunAll(const std::vector<std::string> &commands, int jobs) {
  std::vector<std::string> errors(commands.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int j = 0; j < std::max(1, jobs); j++) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < commands.size(); i = next++) {
        std::string out;
        if (Run(commands[i], &out) != 0) errors[i] = commands[i] + "\n" + out;
      }
    });
  }
  for (auto &t : threads) t.join();
  for (auto &e : errors) {
    if (!e.empty()) return e;
  }
  return "";
}

std::string ResolvedFeatures(const Target &t) {
  if (!t.features.empty()) return t.features;
  kiln_target_features_t set;
  kiln_error_t *err = kiln_target_cpu_features(KILN_TARGET_ARCH_X86_64, t.cpu.c_str(), &set);
  if (err != nullptr) {
    kiln_error_free(err);
    return "";
  }
  char buf[8192];
  kiln_target_features_print(KILN_TARGET_ARCH_X86_64, &set, buf, sizeof(buf));
  return buf;
}

std::string TableSymbol(size_t shard, kiln_image_format_table_kind_t kind, size_t target) {
  char buf[128];
  kiln_image_format_table_symbol(buf, sizeof(buf), shard, kind, target);
  return buf;
}

}  // namespace

std::string BuildImage(const ImageSpec &spec) {
  if (spec.targets.empty()) return "no targets";
  if (Run("mkdir -p " + Quote(spec.dir)) != 0) return "cannot create " + spec.dir;
  const std::string clang = Tool("clang");

  // 1. Compile every source per target (base_sources for target 0 only).
  std::vector<std::string> commands;
  std::vector<std::vector<std::string>> objects(spec.targets.size());
  std::string extra;
  for (auto &f : spec.cflags) extra += " " + Quote(f);
  for (size_t k = 0; k < spec.targets.size(); k++) {
    std::vector<std::string> srcs = spec.sources;
    if (k == 0) srcs.insert(srcs.end(), spec.base_sources.begin(), spec.base_sources.end());
    for (size_t i = 0; i < srcs.size(); i++) {
      std::string obj = spec.dir + "/t" + std::to_string(k) + "_" + std::to_string(i) + ".o";
      commands.push_back(clang + " -O2 -fPIC -c -march=" + spec.targets[k].march +
                         " -DKILN_IMAGE_TARGET=" + std::to_string(k) + extra + " -o " +
                         Quote(obj) + " " + Quote(srcs[i]));
      objects[k].push_back(obj);
    }
  }
  std::string err = RunAll(commands, spec.jobs);
  if (!err.empty()) return err;

  // 2. Target k > 0: rename clones, weaken everything else.
  commands.clear();
  for (size_t k = 1; k < spec.targets.size(); k++) {
    std::string map_path = spec.dir + "/rename" + std::to_string(k) + ".txt";
    std::string map;
    for (auto &f : spec.targets[k].clones) map += f + " " + f + ".kiln." + std::to_string(k) + "\n";
    if (!WriteFile(map_path, map)) return "cannot write " + map_path;
    for (auto &obj : objects[k]) {
      commands.push_back(Tool("llvm-objcopy") + " --weaken --redefine-syms=" + Quote(map_path) +
                         " " + Quote(obj));
    }
  }
  err = RunAll(commands, spec.jobs);
  if (!err.empty()) return err;

  // 3. Function and global tables: target 0's external definitions.
  std::set<std::string> functions_set, globals_set;
  for (auto &obj : objects[0]) {
    std::string out;
    if (Run(Tool("llvm-nm") + " --defined-only --extern-only --format=posix " + Quote(obj),
            &out) != 0) {
      return "llvm-nm failed on " + obj + "\n" + out;
    }
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string name, type;
      fields >> name >> type;
      if (name.empty() || name.rfind("__kiln", 0) == 0) continue;
      if (type == "T" || type == "W") functions_set.insert(name);
      else if (type == "D" || type == "B" || type == "R" || type == "V") globals_set.insert(name);
    }
  }
  // 4. Shards: round robin over the names in sorted order; the tables are
  // numbered shard by shard (format 5), so shard s's entries are
  // consecutive, in name order within the shard.
  const size_t shards = std::max<size_t>(1, spec.shards);
  const size_t ntargets = spec.targets.size();
  auto shard_major = [shards](const std::set<std::string> &names) {
    std::vector<std::string> sorted(names.begin(), names.end()), out;
    for (size_t s = 0; s < shards; s++) {
      for (size_t i = s; i < sorted.size(); i += shards) out.push_back(sorted[i]);
    }
    return out;
  };
  std::vector<std::string> functions = shard_major(functions_set);
  std::vector<std::string> globals = shard_major(globals_set);
  std::map<std::string, uint32_t> function_index;
  for (size_t i = 0; i < functions.size(); i++) function_index[functions[i]] = (uint32_t)i;
  std::vector<std::vector<uint32_t>> shard_fns(shards), shard_gls(shards), shard_slots(shards);
  std::vector<std::vector<std::vector<uint32_t>>> shard_ov(
      shards, std::vector<std::vector<uint32_t>>(ntargets));
  std::vector<size_t> function_shard(functions.size());
  for (size_t s = 0, i = 0; s < shards; s++) {
    for (size_t n = (functions.size() + shards - 1 - s) / shards; n > 0; n--, i++) {
      shard_fns[s].push_back((uint32_t)i);
      function_shard[i] = s;
    }
  }
  for (size_t s = 0, i = 0; s < shards; s++) {
    for (size_t n = (globals.size() + shards - 1 - s) / shards; n > 0; n--, i++) {
      shard_gls[s].push_back((uint32_t)i);
    }
  }
  for (size_t k = 1; k < ntargets; k++) {
    std::set<uint32_t> cloned;
    for (auto &f : spec.targets[k].clones) {
      auto it = function_index.find(f);
      if (it == function_index.end()) return "clone '" + f + "' is not a function of target 0";
      cloned.insert(it->second);
    }
    for (size_t s = 0; s < shards; s++) {
      for (size_t pos = 0; pos < shard_fns[s].size(); pos++) {
        if (cloned.count(shard_fns[s][pos])) shard_ov[s][k].push_back((uint32_t)pos);
      }
    }
  }
  std::vector<std::vector<std::string>> slot_words(shards);
  for (auto &slot : spec.slots) {
    auto it = function_index.find(slot.second);
    if (it == function_index.end()) return "slot function '" + slot.second + "' not found";
    size_t s = function_shard[it->second];
    shard_slots[s].push_back(it->second);
    slot_words[s].push_back(slot.first);
  }

  // 5. The tables file.
  std::ostringstream c;
  c << "/* generated by components/loader/testing/image_builder.cc */\n";
  size_t ref = 0;
  auto refs = [&](const std::vector<std::string> &names) {
    std::ostringstream decls, init;
    for (auto &n : names) {
      decls << "extern char kiln_ref_" << ref << " __asm__(\"" << n << "\");\n";
      init << "  (void *)&kiln_ref_" << ref << ",\n";
      ref++;
    }
    return std::make_pair(decls.str(), init.str());
  };
  auto table = [&](const std::string &sym, const std::vector<std::string> &names) {
    if (names.empty()) return;
    auto r = refs(names);
    c << r.first << "__attribute__((visibility(\"hidden\"))) void *const " << sym << "[] = {\n"
      << r.second << "};\n";
  };
  for (size_t s = 0; s < shards; s++) {
    for (auto &w : slot_words[s]) {
      c << "__attribute__((visibility(\"hidden\"))) void *" << w << " = 0;\n";
    }
    std::vector<std::string> names;
    for (uint32_t f : shard_fns[s]) names.push_back(functions[f]);
    table(TableSymbol(s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, 0), names);
    for (size_t k = 1; k < ntargets; k++) {
      names.clear();
      for (uint32_t pos : shard_ov[s][k]) {
        names.push_back(functions[shard_fns[s][pos]] + ".kiln." + std::to_string(k));
      }
      table(TableSymbol(s, KILN_IMAGE_FORMAT_TABLE_FUNCTIONS, k), names);
    }
    table(TableSymbol(s, KILN_IMAGE_FORMAT_TABLE_SLOTS, 0), slot_words[s]);
    names.clear();
    for (uint32_t g : shard_gls[s]) names.push_back(globals[g]);
    table(TableSymbol(s, KILN_IMAGE_FORMAT_TABLE_GLOBALS, 0), names);
  }
  std::string tables_c = spec.dir + "/tables.c", tables_o = spec.dir + "/tables.o";
  if (!WriteFile(tables_c, c.str())) return "cannot write " + tables_c;

  // 6. The blob.
  std::vector<std::string> features(ntargets);
  std::vector<kiln_image_format_target_t> targets(ntargets);
  for (size_t k = 0; k < ntargets; k++) {
    features[k] = ResolvedFeatures(spec.targets[k]);
    if (features[k].empty()) return "cannot resolve features of " + spec.targets[k].cpu;
    targets[k] = {spec.targets[k].cpu.c_str(), features[k].c_str(), spec.targets[k].flags,
                  spec.targets[k].base};
  }
  std::vector<kiln_image_format_option_t> options;
  for (auto &o : spec.options) options.push_back({o.first.c_str(), o.second.c_str()});
  std::vector<const char *> fn_names, gl_names;
  for (auto &f : functions) fn_names.push_back(f.c_str());
  for (auto &g : globals) gl_names.push_back(g.c_str());
  std::vector<std::vector<const uint32_t *>> ov_ptrs(shards);
  std::vector<std::vector<size_t>> ov_counts(shards);
  std::vector<kiln_image_format_shard_t> shard_desc(shards);
  for (size_t s = 0; s < shards; s++) {
    for (size_t k = 0; k < ntargets; k++) {
      ov_ptrs[s].push_back(shard_ov[s][k].data());
      ov_counts[s].push_back(shard_ov[s][k].size());
    }
    shard_desc[s] = {shard_fns[s].size(),    ov_ptrs[s].data(),     ov_counts[s].data(),
                     shard_slots[s].data(), shard_slots[s].size(), shard_gls[s].size()};
  }
  // One method per function, keyed by its name, in key order.
  std::vector<kiln_image_format_method_t> methods;
  for (auto &f : function_index) {
    kiln_image_format_method_t m = {};
    m.key = fn_names[f.second];
    m.function = f.second;
    m.fingerprint = kiln_image_format_hash64(m.key, f.first.size(), 0);
    methods.push_back(m);
  }
  kiln_image_format_desc_t desc = {};
  desc.producer = spec.producer.c_str();
  desc.triple = spec.triple.c_str();
  desc.name = spec.name.c_str();
  desc.kind = KILN_IMAGE_FORMAT_KIND_SYSTEM;
  desc.options = options.data();
  desc.option_count = options.size();
  desc.targets = targets.data();
  desc.target_count = ntargets;
  desc.functions = fn_names.data();
  desc.function_count = fn_names.size();
  desc.globals = gl_names.data();
  desc.global_count = gl_names.size();
  desc.shards = shard_desc.data();
  desc.shard_count = shards;
  desc.methods = methods.data();
  desc.method_count = methods.size();
  void *blob = nullptr;
  size_t blob_size = 0;
  kiln_error_t *kerr = kiln_image_format_encode(&desc, &blob, &blob_size);
  if (kerr != nullptr) {
    std::string msg = std::string("encode: ") + kiln_error_message(kerr);
    kiln_error_free(kerr);
    return msg;
  }
  char *ir = nullptr;
  kerr = kiln_image_format_root_ir(blob, blob_size, &ir);
  free(blob);
  if (kerr != nullptr) {
    std::string msg = std::string("root_ir: ") + kiln_error_message(kerr);
    kiln_error_free(kerr);
    return msg;
  }
  std::string root_ll = spec.dir + "/root.ll", root_o = spec.dir + "/root.o";
  bool wrote = WriteFile(root_ll, ir);
  free(ir);
  if (!wrote) return "cannot write " + root_ll;

  // 7. Compile tables and root, link.
  commands = {clang + " -O2 -fPIC -c -o " + Quote(tables_o) + " " + Quote(tables_c),
              clang + " -O0 -fPIC -c -Wno-override-module -x ir -o " + Quote(root_o) + " " +
                  Quote(root_ll)};
  err = RunAll(commands, 2);
  if (!err.empty()) return err;
  std::string vs = spec.dir + "/exports.map";
  if (!WriteFile(vs, std::string("{ global: ") + KILN_IMAGE_FORMAT_ROOT_SYMBOL +
                         "; local: *; };\n")) {
    return "cannot write " + vs;
  }
  // The emitter's order: code and tables first, the metadata object (the
  // root) last, so the root follows the relocated tables in .data.rel.ro
  // as in kiln-built images (its first page is then one dlopen already
  // wrote; with the root first, the loader's header compare after dlopen
  // took a page fault kiln images do not take).
  std::string link = Tool("ld.lld") + " -shared --hash-style=" + spec.hash_style +
                     " --version-script=" + Quote(vs) + " -o " + Quote(spec.output) + " " +
                     Quote(tables_o);
  for (auto &objs : objects) {
    for (auto &o : objs) link += " " + Quote(o);
  }
  link += " " + Quote(root_o);
  std::string out;
  if (Run(link, &out) != 0) return link + "\n" + out;
  return "";
}

}  // namespace kiln_loader_testing
