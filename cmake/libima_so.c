/* libima_so.c: libima.so is the static libima linked whole (CMakeLists.txt); CMake wants one source
 * file of its own for the shared target, and this is it. */
typedef int ima_shared_library_has_no_code_of_its_own;
