/*
 * components/codeinst/codeinst.pml — a Promela model of the publication
 * protocol in codeinst.c, checked exhaustively by spin (codeinst_model_test)
 * for 2 writers and 2 readers.
 *
 * Each writer picks, nondeterministically, a specialized publication with or
 * without the specialized-signature bit, or an unspecialized one; a winning
 * specialized writer may then swap specptr for an equivalent pointer. Each
 * reader does READS reads, each through either the protocol's reader or
 * the inline fast path, and asserts that what it returns is one valid,
 * consistent state. A final check asserts the state once writers are done.
 *
 * Every statement is atomic and interleavings are sequentially consistent:
 * the model checks the order of the protocol's steps against every
 * interleaving; the memory orders that keep that order on real hardware are
 * argued in docs/codeinst.md and exercised by the TSan stress test.
 *
 * Variants (spin -D...): WEAK_ORDER announces completion (bit 0b10) before
 * storing invoke; WEAK_NO_REREAD makes the reader keep the invoke it read
 * before waiting. Both must make spin report an assertion violation.
 */

#define NULL     0
#define SPECSIG  1   /* 0b01: specptr has the specialized signature */
#define MATCHES  2   /* 0b10: invoke matches specptr, publication complete */
#define NW       2
#define READS    2

/* Pointer encoding. Writer w (1..NW) publishes invoke w with specptr 10*w
 * (and may swap in the equivalent 10*w+1), or an unspecialized invoke
 * 100+w. So the writer behind a specptr is specptr/10. */
#define SPEC(w)       (10 * (w))
#define SPEC_ALT(w)   (10 * (w) + 1)
#define UNSPEC(w)     (100 + (w))
#define OWNER(sp)     ((sp) / 10)
#define IS_INVOKE(p)  ((p) == 1 || (p) == 2 || (p) == UNSPEC(1) || (p) == UNSPEC(2))

byte specptr = NULL;
byte invoke = NULL;
byte flags = 0;

/* Ghost state for the assertions: each writer's signature bit. */
byte specsig[NW + 1];
byte writers_done = 0;

/* What a COMPILED read must satisfy: invoke and flags belong to the
 * publication that owns specptr. */
#define CONSISTENT(inv, f, sp) \
  ((sp) != NULL && ((f) & MATCHES) != 0 && (inv) == OWNER(sp) && \
   ((f) & SPECSIG) == specsig[OWNER(sp)])

proctype writer(byte w) {
  bool won = false;
  if
  :: specsig[w] = 0; goto specialized
  :: specsig[w] = SPECSIG; goto specialized
  :: goto unspecialized
  fi;

specialized:
  /* CAS specptr NULL -> SPEC(w) (acq_rel). */
  atomic {
    if
    :: specptr == NULL -> specptr = SPEC(w); won = true
    :: else -> skip
    fi
  }
  if
  :: won ->
#ifdef WEAK_ORDER
    flags = specsig[w];
    flags = MATCHES | specsig[w];   /* announced too early */
    invoke = w;
#else
    flags = specsig[w];             /* relaxed */
    invoke = w;                     /* release */
    flags = MATCHES | specsig[w];   /* release: the announcement */
#endif
    if
    :: specptr = SPEC_ALT(w)        /* update to an equivalent pointer */
    :: skip
    fi
  :: else ->
    (flags & MATCHES) != 0          /* lost: wait for the winner */
  fi;
  goto done;

unspecialized:
  if
  :: specptr != NULL -> (flags & MATCHES) != 0   /* keep the specialized one */
  :: else ->
    /* CAS invoke NULL -> UNSPEC(w) (acq_rel). */
    atomic {
      if
      :: invoke == NULL -> invoke = UNSPEC(w)
      :: else -> skip
      fi
    }
  fi;

done:
  atomic { writers_done++ }
}

proctype reader() {
  byte sp, inv, f;
  byte n = 0;
  /* History of this reader: once seen, invoke and specptr never vanish. */
  bool saw_invoke = false;
  bool saw_compiled = false;

  do
  :: n < READS ->
    if
    :: /* The protocol's reader (kiln_codeinst_read). */
      sp = specptr;
      inv = invoke;
      if
      :: inv == NULL ->
        /* Not executable: not compiled (sp NULL) or being published. */
        assert(!saw_invoke)
      :: inv != NULL && sp == NULL ->
        /* Unspecialized: any published invoke is callable on its own. */
        assert(IS_INVOKE(inv));
        assert(!saw_compiled);
        saw_invoke = true
      :: inv != NULL && sp != NULL ->
        (flags & MATCHES) != 0;     /* wait for the announcement */
#ifndef WEAK_NO_REREAD
        inv = invoke;               /* re-read: the final invoke */
#endif
        f = flags;
        assert(CONSISTENT(inv, f, sp));
        saw_invoke = true;
        saw_compiled = true
      fi
    :: /* The inline fast path (kiln_codeinst_read_compiled). */
      f = flags;
      if
      :: (f & MATCHES) != 0 ->
        inv = invoke;
        sp = specptr;
        assert(CONSISTENT(inv, f, sp));
        saw_invoke = true;
        saw_compiled = true
      :: else -> skip               /* falls back to the reader above */
      fi
    fi;
    n++
  :: else -> break
  od
}

init {
  atomic {
    run writer(1);
    run writer(2);
    run reader();
    run reader();
  }
  /* Once both writers returned, the instance is in its final state. */
  (writers_done == NW);
  if
  :: specptr != NULL -> assert(CONSISTENT(invoke, flags, specptr))
  :: else -> assert(flags == 0 && (invoke == UNSPEC(1) || invoke == UNSPEC(2)))
  fi
}
