"""kiln_system_repository: declare a Debian-installed library as a Bazel repository.

kiln builds offline against the pinned Debian packages that tools/setup
installs. Each of them becomes one external repository whose files are
symlinks to the installed ones, with a BUILD overlay from third_party/<name>/.
BUILD files then refer only to labels like @llvm//:llvm_c, never to absolute
paths.

The rule fails with a message that names the missing file and how to install
it, and, where `version_command` is given, checks the installed version.
"""

def _multiarch(ctx):
    """The Debian multiarch triple of this machine, e.g. x86_64-linux-gnu."""
    res = ctx.execute(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"])
    if res.return_code == 0 and res.stdout.strip():
        return res.stdout.strip()
    res = ctx.execute(["uname", "-m"])
    return res.stdout.strip() + "-linux-gnu"

def _matches(name, pattern):
    """Matches `name` against a pattern with at most one `*`."""
    if "*" not in pattern:
        return name == pattern
    prefix, suffix = pattern.split("*", 1)
    return len(name) >= len(prefix) + len(suffix) and name.startswith(prefix) and name.endswith(suffix)

def _fail_missing(ctx, what):
    fail(("kiln: repository @%s needs %s, which is not installed.\n" +
          "Fix: run tools/setup (it installs Debian package(s) %s).") %
         (ctx.name, what, ", ".join(ctx.attr.packages)))

def _kiln_system_repository_impl(ctx):
    multiarch = _multiarch(ctx)

    # Version check first, so a wrong LLVM is reported as such rather than as
    # a missing file further down.
    if ctx.attr.version_command:
        cmd = [c.replace("{multiarch}", multiarch) for c in ctx.attr.version_command]
        if not ctx.path(cmd[0]).exists:
            _fail_missing(ctx, cmd[0])
        res = ctx.execute(cmd)
        version = res.stdout.strip()
        if res.return_code != 0 or not version.startswith(ctx.attr.version_prefix):
            fail(("kiln: repository @%s needs version %sx, but `%s` printed '%s'.\n" +
                  "Fix: run tools/setup, or `apt-get install %s` from Debian, so that %s is %sx.") %
                 (ctx.name, ctx.attr.version_prefix, " ".join(cmd), version or res.stderr.strip(),
                  " ".join(ctx.attr.packages), cmd[0], ctx.attr.version_prefix))

    # Whole files or directories.
    for dest, src in ctx.attr.links.items():
        src = src.replace("{multiarch}", multiarch)
        if not ctx.path(src).exists:
            _fail_missing(ctx, src)
        ctx.symlink(src, dest)

    # Selected files of a large directory (e.g. libabsl_*.so of the multiarch
    # library folder), so that globs in the overlay stay small.
    for dest_dir, spec in ctx.attr.dir_globs.items():
        src_dir, _, patterns = spec.partition(":")
        src_dir = src_dir.replace("{multiarch}", multiarch)
        if not ctx.path(src_dir).exists:
            _fail_missing(ctx, src_dir)
        found = 0
        for entry in ctx.path(src_dir).readdir():
            for pattern in patterns.split(","):
                if _matches(entry.basename, pattern):
                    ctx.symlink(entry, dest_dir + "/" + entry.basename)
                    found += 1
                    break
        if found == 0:
            _fail_missing(ctx, "%s/%s" % (src_dir, patterns))

    ctx.symlink(ctx.attr.build_file, "BUILD.bazel")
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)

kiln_system_repository = repository_rule(
    implementation = _kiln_system_repository_impl,
    local = True,
    attrs = {
        "build_file": attr.label(mandatory = True, allow_single_file = True),
        "packages": attr.string_list(mandatory = True, doc = "Debian packages that provide the files."),
        "links": attr.string_dict(doc = "repository path -> absolute path ({multiarch} expands)."),
        "dir_globs": attr.string_dict(doc = "repository dir -> 'absolute dir:pattern,pattern' (one * each)."),
        "version_command": attr.string_list(doc = "Command whose stdout is the installed version."),
        "version_prefix": attr.string(doc = "Required prefix of that version, e.g. '22.1.'."),
    },
)
