# llhttp: prefer a system libllhttp (pkg-config or plain library), otherwise
# build Debian's node-llhttp sources as a static library. Strict mode is
# required: the loose parser accepts CR-smuggled headers (NOTES.md §0).
find_package(PkgConfig REQUIRED)
pkg_check_modules(LLHTTP IMPORTED_TARGET llhttp)
if(LLHTTP_FOUND)
    add_library(llhttp ALIAS PkgConfig::LLHTTP)
    message(STATUS "llhttp: system library ${LLHTTP_VERSION}")
else()
    set(LLHTTP_SRC_DIR /usr/share/llhttp CACHE PATH "llhttp C sources (Debian node-llhttp)")
    set(LLHTTP_INCLUDE_DIR /usr/share/include/llhttp CACHE PATH "llhttp.h directory")
    if(NOT EXISTS ${LLHTTP_SRC_DIR}/llhttp.c)
        message(FATAL_ERROR "llhttp sources not found in ${LLHTTP_SRC_DIR}: apt-get install node-llhttp")
    endif()
    add_library(llhttp STATIC ${LLHTTP_SRC_DIR}/llhttp.c ${LLHTTP_SRC_DIR}/api.c
                              ${LLHTTP_SRC_DIR}/http.c)
    target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
    target_compile_definitions(llhttp PRIVATE LLHTTP_STRICT_MODE=1)
    # Generated code: not ours to warn about.
    target_compile_options(llhttp PRIVATE -w)
    set_target_properties(llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)
    message(STATUS "llhttp: built from ${LLHTTP_SRC_DIR} (strict mode)")
endif()
