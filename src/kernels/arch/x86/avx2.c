/* kernels/arch/x86: AVX2 + FMA + F16C versions of the kernels in kernels/.
 * Each entry installed here has a `_generic` twin and a test against it. */
#include "kernels/kern.h"

void kern_install_avx2(struct kern_ops *ops)
{
    (void)ops; /* no AVX2 overrides yet: the generic entries stay */
}
