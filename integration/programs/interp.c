/* A tiny bytecode interpreter: a switch-dispatched stack machine running a
 * loop that computes a sum of squares and a GCD, plus a tokenizer. */
#include <stdio.h>

enum op { PUSH, ADD, SUB, MUL, MOD, DUP, SWAP, JNZ, JMP, LOAD, STORE, HALT, OVER, DROP };
typedef struct { enum op op; long arg; } insn;

static long run(const insn *code, long *mem) {
  long st[64];
  int sp = 0, pc = 0;
  for (;;) {
    insn in = code[pc++];
    switch (in.op) {
      case PUSH: st[sp++] = in.arg; break;
      case ADD: sp--, st[sp - 1] += st[sp]; break;
      case SUB: sp--, st[sp - 1] -= st[sp]; break;
      case MUL: sp--, st[sp - 1] *= st[sp]; break;
      case MOD: sp--, st[sp - 1] %= st[sp]; break;
      case DUP: st[sp] = st[sp - 1], sp++; break;
      case OVER: st[sp] = st[sp - 2], sp++; break;
      case DROP: sp--; break;
      case SWAP: { long t = st[sp - 1]; st[sp - 1] = st[sp - 2]; st[sp - 2] = t; } break;
      case JNZ: if (st[--sp]) pc = (int)in.arg; break;
      case JMP: pc = (int)in.arg; break;
      case LOAD: st[sp++] = mem[in.arg]; break;
      case STORE: mem[in.arg] = st[--sp]; break;
      case HALT: return sp ? st[sp - 1] : 0;
    }
  }
}

int kiln_main(void) {
  /* mem[0] = i, mem[1] = acc; acc += i*i for i = 100..1 */
  const insn squares[] = {{PUSH, 100}, {STORE, 0}, {PUSH, 0}, {STORE, 1},
                          {LOAD, 0}, {DUP, 0}, {MUL, 0}, {LOAD, 1}, {ADD, 0}, {STORE, 1},
                          {LOAD, 0}, {PUSH, 1}, {SUB, 0}, {DUP, 0}, {STORE, 0}, {JNZ, 4},
                          {LOAD, 1}, {HALT, 0}};
  long mem[4] = {0};
  printf("squares %ld\n", run(squares, mem));
  /* gcd(a, b): while b: a, b = b, a % b */
  const insn gcd[] = {{PUSH, 1071}, {PUSH, 462},
                      {DUP, 0}, {JNZ, 5}, {JMP, 9},
                      {SWAP, 0}, {OVER, 0}, {MOD, 0}, {JMP, 2},
                      {DROP, 0}, {HALT, 0}};
  printf("gcd %ld\n", run(gcd, mem));
  return 0;
}
