/* blas.h: OpenBLAS's cblas.h, without the `I` macro that its <complex.h> include defines
 * (libima uses I as the name of a layer's input width). Include this, never <cblas.h>. */
#ifndef IMA_CORE_BLAS_H
#define IMA_CORE_BLAS_H
#include <cblas.h>
#ifdef I
#undef I
#endif
/* OpenBLAS threading control (declared by OpenBLAS's cblas.h) */
void openblas_set_num_threads(int num_threads);
#endif
