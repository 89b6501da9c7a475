// OpenBLAS's CBLAS plus its thread and core-name controls (declared by Debian's cblas.h).
#include <cblas.h>
