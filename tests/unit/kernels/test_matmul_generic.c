/* kern_matmul over the generic kernel table only (OM_KERN_ISA=generic is set
 * before the first kern_init), so the plain C paths are covered on any CPU. */
#include "test_matmul.inc"

int main(void)
{
    setenv("OM_KERN_ISA", "generic", 1);
    return run_matmul_tests();
}
