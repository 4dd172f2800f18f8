#pragma once
// Stand-in for the header a CUDA build of LibTorch generates (CPU builds ship c10/cuda headers without it). Used only
// by the compile-only check of the CUDA code paths (CASPL_CUDA_COMPILE_CHECK in core/CMakeLists.txt); never linked.
#define C10_CUDA_BUILD_SHARED_LIBS
