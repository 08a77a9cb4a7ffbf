/* kernels/arch/x86: AVX-512 (F/BW/VL/DQ + VNNI) versions of the kernels. */
#include "kernels/kern.h"

void kern_install_avx512(struct kern_ops *ops)
{
    (void)ops; /* no AVX-512 overrides yet: the AVX2/generic entries stay */
}
