/* components/loader/testdata/native_slot.c — the native build's slot word:
 * what the loader writes into the image's kiln_slot_square. */
int square(int x);
void *kiln_slot_square = (void *)&square;
