/* kern_matmul over the active (best available) kernel table: every weight
 * type against a float reference, 1 vs 3 threads bit-identical. */
#include "test_matmul.inc"

int main(void)
{
    return run_matmul_tests();
}
