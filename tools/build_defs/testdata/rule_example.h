/* Shared declarations of the kiln_image rule test sources. */
#ifndef KILN_RULE_EXAMPLE_H
#define KILN_RULE_EXAMPLE_H
void rule_scale(float *x, int n, float a);
double rule_sum(const float *x, int n);
#endif
