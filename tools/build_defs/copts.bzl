"""Compiler flags and the macros every kiln BUILD file uses.

One place for warnings so they stay uniform: components are C11 and build
warning-clean with -Werror; C++ (adapters, the abseil shim, tests) is C++17.
The language standards themselves are set in .bazelrc (--conlyopt/--cxxopt).
"""

KILN_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wshadow",
    "-Wmissing-prototypes",
    "-Wstrict-prototypes",
    "-Wno-unused-parameter",
]

# Tests include GoogleTest, whose macros define functions without prototypes.
KILN_TEST_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
]

def kiln_c_library(name, hdrs = [], copts = [], public_headers = None, **kwargs):
    """A cc_library with kiln's warnings and a header check per public header.

    For each header in `public_headers` (default: `hdrs`) it adds two tests,
    `<name>_hdr_<stem>_c` and `<name>_hdr_<stem>_cxx`, that compile the header
    alone as strict C11 and as C++17 with every warning an error. A header
    that is not self-contained, not valid C, or leaks C++ fails them, and a
    header added to `hdrs` later is checked without further work.
    """
    native.cc_library(
        name = name,
        hdrs = hdrs,
        copts = KILN_COPTS + copts,
        **kwargs
    )
    if public_headers == None:
        public_headers = hdrs
    for hdr in public_headers:
        kiln_header_test(
            name = "%s_hdr_%s" % (name, hdr.split("/")[-1].replace(".", "_")),
            hdr = hdr,
            lib = ":" + name,
        )

def kiln_header_test(name, hdr, lib):
    """Compiles `hdr` on its own as C11 and as C++17 (see kiln_c_library)."""
    pkg = native.package_name()
    path = (pkg + "/" + hdr) if pkg else hdr
    body = ("/* Generated: compiles %s alone. */\\n" +
            "#include \\\"%s\\\"\\n" +
            "#include \\\"%s\\\" /* twice: include guards */\\n" +
            "int main(void) { return 0; }\\n") % (path, path, path)
    for lang, ext, std in [("c", "c", "-std=c11"), ("cxx", "cc", "-std=c++17")]:
        native.genrule(
            name = "%s_%s_src" % (name, lang),
            outs = ["%s_%s.%s" % (name, lang, ext)],
            cmd = "printf '%s' > $@" % body,
        )
        native.cc_test(
            name = "%s_%s" % (name, lang),
            srcs = [":%s_%s_src" % (name, lang)],
            copts = [std, "-pedantic-errors", "-Wall", "-Wextra", "-Werror",
                     "-Wstrict-prototypes", "-Wundef"],
            deps = [lib],
            size = "small",
            tags = ["header_check"],
        )

def kiln_cc_test(name, srcs, deps = [], copts = [], **kwargs):
    """A GoogleTest test with kiln's test warnings and gtest_main."""
    native.cc_test(
        name = name,
        srcs = srcs,
        copts = KILN_TEST_COPTS + copts,
        deps = deps + ["@googletest//:gtest_main"],
        **kwargs
    )
