// oneDNN's C API (Debian's libdnnl-dev, oneDNN 2.6), plus named constants for the macros Swift cannot import
// and OpenMP's thread control (Debian builds oneDNN on libgomp).
#include <oneapi/dnnl/dnnl.h>

static const int VIDAR_DNNL_ARG_SRC = DNNL_ARG_SRC;
static const int VIDAR_DNNL_ARG_DST = DNNL_ARG_DST;
static const int VIDAR_DNNL_ARG_WEIGHTS = DNNL_ARG_WEIGHTS;
static const int VIDAR_DNNL_ARG_BIAS = DNNL_ARG_BIAS;
static const int VIDAR_DNNL_ARG_FROM = DNNL_ARG_FROM;
static const int VIDAR_DNNL_ARG_TO = DNNL_ARG_TO;
static const int VIDAR_DNNL_ARG_SCRATCHPAD = DNNL_ARG_SCRATCHPAD;
static inline void *vidar_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }

void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);
