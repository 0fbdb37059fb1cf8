"""kiln_image: build a kiln image from C (or LLVM IR) sources as Bazel actions.

The build is the CLI's, cut into hermetic actions so Bazel can run them in
parallel, cache each one, and send them to remote execution:

    each .c  --clang-22-->  .bc          one action per source
    all .bc  --kiln split-->  plan + shard-<i>.bc      one action
    shard i  --kiln emit-shard-->  shard-<i>.o + .slots  one action per shard
    plan + shards  --kiln link-->  <name>.so            one action

The shard count must be given (Bazel declares every output before running
anything, so it cannot come from the module's weight as it does in
`kiln build`). The image is byte-identical to `kiln build` of the same
sources with the same options (tools/build_defs/kiln_rule_test.sh checks it).

Example:

    load("//tools/build_defs:kiln.bzl", "kiln_image")

    kiln_image(
        name = "kernels",
        srcs = ["saxpy.c", "dot.c"],
        cpu_target = "generic;haswell;x86-64-v4",
        shards = 4,
    )

produces `kernels.so`.
"""

def _compile_c(ctx, src):
    """One clang-22 action: a .c source to unoptimized bitcode."""
    out = ctx.actions.declare_file("%s.kiln/bc/%s.bc" % (ctx.label.name, src.short_path.replace("/", "_")))
    args = ctx.actions.args()
    args.add("-O%d" % ctx.attr.opt_level)
    args.add_all(["-Xclang", "-disable-llvm-passes", "-fPIC", "-emit-llvm", "-c"])
    args.add_all(ctx.attr.copts)
    args.add(src)
    args.add("-o", out)
    ctx.actions.run(
        executable = ctx.executable._clang,
        arguments = [args],
        inputs = [src] + ctx.files.hdrs,
        outputs = [out],
        mnemonic = "KilnCompileBitcode",
        progress_message = "kiln: compiling %s to bitcode" % src.short_path,
    )
    return out

def _kiln_image_impl(ctx):
    if ctx.attr.shards < 1:
        fail("shards must be at least 1 (got %d)" % ctx.attr.shards)
    if ctx.attr.opt_level < 0 or ctx.attr.opt_level > 3:
        fail("opt_level must be 0..3 (got %d)" % ctx.attr.opt_level)
    kiln = ctx.executable._kiln
    name = ctx.label.name

    # Stage 1: sources to bitcode (.bc/.ll inputs are used as they are).
    inputs = []
    for src in ctx.files.srcs:
        if src.extension == "c":
            inputs.append(_compile_c(ctx, src))
        elif src.extension in ["bc", "ll"]:
            inputs.append(src)
        else:
            fail("%s: kiln_image takes .c, .bc and .ll sources" % src.short_path)

    # Stage 2: one split action writes the plan and every shard's bitcode.
    plan = ctx.actions.declare_file("%s.kiln/plan/kiln-plan.bin" % name)
    shard_bcs = [
        ctx.actions.declare_file("%s.kiln/plan/shard-%d.bc" % (name, i))
        for i in range(ctx.attr.shards)
    ]
    common = ["--cpu-target", ctx.attr.cpu_target, "-O%d" % ctx.attr.opt_level]
    if not ctx.attr.vectorize:
        common.append("--no-vectorize")
    split = ctx.actions.args()
    split.add("split")
    split.add_all(common)
    split.add_all(["--shards", str(ctx.attr.shards), "--threads", "1"])
    # The name recorded in the header; `kiln build -o X/<stem>.so` uses the
    # stem, so the default here is the output's stem too.
    out_name = ctx.attr.out or (name + ".so")
    split.add_all(["--name", ctx.attr.image_name or out_name.rsplit("/", 1)[-1].split(".")[0]])
    split.add("-o", plan.dirname)
    split.add_all(inputs)
    ctx.actions.run(
        executable = kiln,
        arguments = [split],
        inputs = inputs,
        outputs = [plan] + shard_bcs,
        mnemonic = "KilnSplit",
        progress_message = "kiln: splitting %s into %d shards" % (name, ctx.attr.shards),
    )

    # Stage 3: one emit action per shard, each hermetic and cacheable alone.
    shard_outs = []
    for i in range(ctx.attr.shards):
        obj = ctx.actions.declare_file("%s.kiln/shards/shard-%d.o" % (name, i))
        slots = ctx.actions.declare_file("%s.kiln/shards/shard-%d.slots" % (name, i))
        emit = ctx.actions.args()
        emit.add_all(["emit-shard", plan.dirname, str(i), "-o", obj.path[:-len(".o")]])
        ctx.actions.run(
            executable = kiln,
            arguments = [emit],
            inputs = [plan] + shard_bcs,
            outputs = [obj, slots],
            mnemonic = "KilnEmitShard",
            progress_message = "kiln: emitting shard %d of %s" % (i, name),
        )
        shard_outs.append((obj, slots))

    # Stage 4: metadata object, archive and in-process LLD link.
    image = ctx.actions.declare_file(out_name)
    link = ctx.actions.args()
    link.add_all(["link", plan.dirname])
    link.add_all([obj.path[:-len(".o")] for obj, _ in shard_outs])
    link.add_all(["-l" + lib for lib in ctx.attr.link_libs])
    link.add("-o", image)
    ctx.actions.run(
        executable = kiln,
        arguments = [link],
        inputs = [plan] + shard_bcs + [f for pair in shard_outs for f in pair],
        outputs = [image],
        mnemonic = "KilnLink",
        progress_message = "kiln: linking %s" % image.short_path,
    )
    return [DefaultInfo(files = depset([image]), runfiles = ctx.runfiles(files = [image]))]

kiln_image = rule(
    implementation = _kiln_image_impl,
    doc = "A kiln image (.so) built from C/LLVM IR sources in split/emit/link actions.",
    attrs = {
        "srcs": attr.label_list(allow_files = [".c", ".bc", ".ll"], mandatory = True),
        "hdrs": attr.label_list(allow_files = [".h"], doc = "Headers the C sources include."),
        "copts": attr.string_list(doc = "Extra clang flags for .c sources (as kiln build --cflag)."),
        "cpu_target": attr.string(default = "generic", doc = "kiln CPU target string."),
        "shards": attr.int(default = 1, doc = "Shard count (one emit action each)."),
        "opt_level": attr.int(default = 2),
        "vectorize": attr.bool(default = True),
        "image_name": attr.string(doc = "Name recorded in the image header (default: output stem)."),
        "link_libs": attr.string_list(doc = "Extra libraries for the link (-l)."),
        "out": attr.string(doc = "Output file name (default: <name>.so)."),
        "_kiln": attr.label(
            default = Label("//tools/kiln"),
            executable = True,
            cfg = "host",
        ),
        "_clang": attr.label(
            default = Label("@llvm//:clang"),
            executable = True,
            allow_single_file = True,
            cfg = "host",
        ),
    },
)
