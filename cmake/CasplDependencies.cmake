# Finds every third-party package the project uses and normalises their target names.
#
#   Torch            find_package(Torch) — Debian's CPU LibTorch 1.13, or a CUDA LibTorch / Python torch via
#                    -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
#   Qt6              Core (always), Widgets + Test (GUI and tests)
#   QCustomPlotQt6   the Qt 6 build of QCustomPlot (plain QCustomPlot is Debian's Qt 5 build)
#   OpenCV           core imgproc imgcodecs (Debian's per-module -dev packages ship no CMake config: fallback below)
#   yaml-cpp         0.7 exports `yaml-cpp`, 0.8 exports `yaml-cpp::yaml-cpp`: we always link the latter
#   ICU, ZLIB, nlohmann_json, CLI11 (the headless command line)

find_package(Torch REQUIRED)
# Torch's config adds its flags (ABI define) to TORCH_CXX_FLAGS; carry them on the targets that use it.
separate_arguments(CASPL_TORCH_CXX_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA)
  set(CASPL_WITH_CUDA ON)
else()
  set(CASPL_WITH_CUDA OFF)
endif()
message(STATUS "CasPL: LibTorch ${Torch_VERSION} CUDA=${CASPL_WITH_CUDA}")

set(_caspl_qt_components Core)
if(CASPL_BUILD_GUI)
  list(APPEND _caspl_qt_components Gui Widgets PrintSupport)
endif()
if(CASPL_BUILD_TESTS)
  list(APPEND _caspl_qt_components Test)
  if(CASPL_BUILD_GUI)
    list(APPEND _caspl_qt_components Gui Widgets)
  endif()
endif()
list(REMOVE_DUPLICATES _caspl_qt_components)
find_package(Qt6 6.2 REQUIRED COMPONENTS ${_caspl_qt_components})
if(CASPL_BUILD_GUI)
  find_package(QCustomPlotQt6 CONFIG REQUIRED)
endif()

find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
if(NOT OpenCV_FOUND)
  # Debian's libopencv-{core,imgproc,imgcodecs}-dev ship headers and libraries but no OpenCVConfig.cmake
  # (that comes with the full libopencv-dev). Find the three modules by hand.
  find_path(CASPL_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4)
  foreach(_m core imgproc imgcodecs)
    find_library(CASPL_OPENCV_${_m}_LIBRARY opencv_${_m})
    if(NOT CASPL_OPENCV_INCLUDE_DIR OR NOT CASPL_OPENCV_${_m}_LIBRARY)
      message(FATAL_ERROR "OpenCV ${_m} not found: install libopencv-${_m}-dev (scripts/install-deps.sh does)")
    endif()
    if(NOT TARGET opencv_${_m})
      add_library(opencv_${_m} UNKNOWN IMPORTED)
      set_target_properties(opencv_${_m} PROPERTIES IMPORTED_LOCATION "${CASPL_OPENCV_${_m}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CASPL_OPENCV_INCLUDE_DIR}")
    endif()
  endforeach()
  set(OpenCV_LIBS opencv_core opencv_imgproc opencv_imgcodecs)
  message(STATUS "CasPL: OpenCV (module fallback) ${CASPL_OPENCV_INCLUDE_DIR}")
endif()
add_library(caspl_opencv INTERFACE)
target_link_libraries(caspl_opencv INTERFACE ${OpenCV_LIBS})

find_package(yaml-cpp REQUIRED)
if(NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp ALIAS yaml-cpp)
endif()

find_package(ICU REQUIRED COMPONENTS uc i18n)
find_package(ZLIB REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
