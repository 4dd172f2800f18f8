# caspl_warnings(target): -Wall -Wextra on our own code only (never on third-party headers, which come in as
# SYSTEM includes through their imported targets).
function(caspl_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra)
  endif()
endfunction()
