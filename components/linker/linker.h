/*
 * components/linker/linker.h — kiln's linker step: object files and archives
 * in, one ELF shared object ("image") out, through LLD's ELF driver in this
 * process (default) or the system C compiler as a fallback.
 *
 * The emitter calls it with one archive of per-shard objects (whole-archive)
 * and one export, the image's root symbol (kiln_image_root). Every link:
 *   - passes -shared, -z now, -z relro, -z noexecstack, --build-id=sha1,
 *     --hash-style=gnu and --eh-frame-hdr, and no rpath, so equal inputs give
 *     byte-identical outputs that carry no build path;
 *   - exports exactly the requested symbols (a version script
 *     `{ global: a; b; local: *; };`): everything else is local;
 *   - links libc, so the image records DT_NEEDED libc.so.6;
 *   - writes a temporary file beside the output and renames it into place:
 *     on any failure the previous output is untouched and nothing is left.
 * docs/linker.md explains the flags and choices.
 *
 * Usage:
 *
 *   kiln_linker_options_t *opts = NULL;
 *   kiln_error_t *err = kiln_linker_options_new(&opts);
 *   if (err == NULL) err = kiln_linker_options_set_output(opts, "out/libimage.so");
 *   if (err == NULL) err = kiln_linker_options_add_archive(opts, "out/shards.a", true);
 *   if (err == NULL) err = kiln_linker_options_add_export(opts, "kiln_image_root");
 *   if (err == NULL) err = kiln_linker_link(opts, NULL);
 *   kiln_linker_options_free(opts);
 *
 * Setters copy their strings; options are not changed by kiln_linker_link.
 */
#ifndef KILN_LINKER_H
#define KILN_LINKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "components/base/base.h"

KILN_BEGIN_DECLS

/* ---- Drivers ----------------------------------------------------------- */

/* Which linker runs. */
typedef enum kiln_linker_driver {
  /* LLD 22's ELF driver in this process (third_party/llvm_c_ext:lld). Links
   * are serialized process-wide (LLD keeps global state). The default. */
  KILN_LINKER_DRIVER_LLD = 0,
  /* The system C compiler (`cc`, or kiln_linker_options_set_cc) run as a
   * child process with -shared; it picks its own linker (GNU ld on Debian)
   * and adds the C runtime's crti/crtbeginS/crtendS/crtn objects. */
  KILN_LINKER_DRIVER_CC = 1
} kiln_linker_driver_t;

/* "lld" or "cc"; NULL for a number that is not a driver. Ownership: static
 * storage. Thread-safety: any thread. */
KILN_API const char *kiln_linker_driver_name(kiln_linker_driver_t driver);

/* ---- Options ----------------------------------------------------------- */

/* Opaque options of one link. Thread-safety: not synchronized; a const
 * options object may be read by several kiln_linker_link calls at once. */
typedef struct kiln_linker_options kiln_linker_options_t;

/* Creates options with no output, no inputs, no exports, the LLD driver, the
 * host's architecture for finding libc, and libc linked.
 * Ownership: *options_out is owned by the caller (kiln_linker_options_free);
 * NULL on failure.
 * Errors: KILN_ERR_INVALID_ARGUMENT for NULL; KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_new(kiln_linker_options_t **options_out);

/* Releases options. Accepts NULL. */
KILN_API void kiln_linker_options_free(kiln_linker_options_t *options);

/* The shared object to write (replaced atomically). Required.
 * Errors (all setters below alike): KILN_ERR_INVALID_ARGUMENT for NULL or
 * "" arguments or an argument the setter rejects (named in the message);
 * KILN_ERR_OUT_OF_MEMORY. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_set_output(kiln_linker_options_t *options,
                                                                    const char *path);

/* Appends a static archive to the inputs. With `whole_archive` every member
 * is linked (--whole-archive), as the emitter's shard archive must be;
 * otherwise only members that resolve undefined symbols. Inputs (archives
 * and objects) are passed in the order they were added. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_add_archive(
    kiln_linker_options_t *options, const char *path, bool whole_archive);

/* Appends a relocatable object file (.o) to the inputs. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_add_object(kiln_linker_options_t *options,
                                                                    const char *path);

/* Appends a library by name, as -l`name` ("m" for libm), after all inputs. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_add_library(
    kiln_linker_options_t *options, const char *name);

/* Appends a directory searched for -l libraries (-L), before the system's. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_add_library_path(
    kiln_linker_options_t *options, const char *dir);

/* Adds a symbol to the image's dynamic symbol table. Only added symbols are
 * exported; at least one is required (the image's root symbol). Names are
 * C identifiers or mangled names: [A-Za-z0-9_.$] only. A name that the link
 * does not define makes the link fail. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_add_export(kiln_linker_options_t *options,
                                                                    const char *symbol);

/* With `no_undefined`, a symbol left undefined after the link is an error
 * (--no-undefined); by default it is left for the dynamic loader. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_set_no_undefined(
    kiln_linker_options_t *options, bool no_undefined);

/* Chooses the driver (default KILN_LINKER_DRIVER_LLD). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_set_driver(kiln_linker_options_t *options,
                                                                    kiln_linker_driver_t driver);

/* The C compiler for KILN_LINKER_DRIVER_CC: a path, or a name looked up in
 * PATH (default "cc"). */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_set_cc(kiln_linker_options_t *options,
                                                                const char *cc);

/* Records `soname` as the image's DT_SONAME (default: none). A plain name,
 * no '/'. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_set_soname(kiln_linker_options_t *options,
                                                                    const char *soname);

/* The target triple ("x86_64-unknown-linux-gnu", "aarch64-linux-gnu") whose
 * libc is linked; default: the architecture kiln was built for. Only its
 * architecture is used, to find the multiarch library directory
 * (/usr/lib/<arch>-linux-gnu) holding libc.so. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_set_triple(kiln_linker_options_t *options,
                                                                    const char *triple);

/* Whether to link libc (default true): the image then records DT_NEEDED
 * libc.so.6. Turn off to link for a target whose libc is not installed. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_set_link_libc(
    kiln_linker_options_t *options, bool link_libc);

/* Appends a raw linker argument, passed after kiln's fixed flags and before
 * the inputs (so positional flags such as --as-needed apply to the inputs).
 * With the CC driver each is passed through -Xlinker. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_options_add_arg(kiln_linker_options_t *options,
                                                                 const char *arg);

/* ---- Linking ----------------------------------------------------------- */

/* What one successful link did. */
typedef struct kiln_linker_report kiln_linker_report_t;

/* Links the inputs into options' output.
 *
 * Ownership: *report_out (when report_out is not NULL) is owned by the
 * caller (kiln_linker_report_free); NULL on failure.
 * Errors, each naming the output and, where there is one, the input:
 * KILN_ERR_INVALID_ARGUMENT for NULL options, no output, no inputs or no
 * exports; KILN_ERR_NOT_FOUND for an input file that does not exist or
 * cannot be read, or when libc's library directory is not found;
 * KILN_ERR_IO when the output's directory cannot take the temporary files or
 * the rename; KILN_ERR_LINK when the linker fails (corrupt input, undefined
 * symbol under no_undefined, missing export...): the message carries the
 * linker's diagnostics, which are never printed; KILN_ERR_UNSUPPORTED when
 * LLD cannot run again in this process (see third_party/llvm_c_ext/lld.h).
 * On every error the previous output file is untouched and no temporary
 * file is left.
 * Thread-safety: any thread; concurrent links must use different outputs.
 * LLD links run one at a time process-wide, CC links in parallel. */
KILN_API KILN_NODISCARD kiln_error_t *kiln_linker_link(const kiln_linker_options_t *options,
                                                      kiln_linker_report_t **report_out);

/* The driver that ran. */
KILN_API kiln_linker_driver_t kiln_linker_report_driver(const kiln_linker_report_t *report);

/* Wall time of the link, from validating options to the rename, in ns. */
KILN_API uint64_t kiln_linker_report_wall_ns(const kiln_linker_report_t *report);

/* The linker's output on success (warnings); "" when it said nothing.
 * Ownership: borrowed, valid until kiln_linker_report_free(report). */
KILN_API const char *kiln_linker_report_diagnostics(const kiln_linker_report_t *report);

/* Releases a report. Accepts NULL. */
KILN_API void kiln_linker_report_free(kiln_linker_report_t *report);

KILN_END_DECLS

#endif /* KILN_LINKER_H */
