"""Stand-in for rules_cc's defs.bzl: forwards each rule to the native one.

Bazel 4.2.3 wants @rules_cc, and no network is available to fetch it; Debian's
bazel-rules-cc is written for newer Bazel (it needs `use_cpp_toolchain`).
"""

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)
