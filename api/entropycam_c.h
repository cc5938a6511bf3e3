/* entropycam: the C API (installed as <entropycam/entropycam.h>; the C++ API is <entropycam/entropycam.hpp>).
 *
 * Opaque handles; every int function returns 0 on success or the CLI's exit code: 1 bad input (a missing or
 * corrupt file, an unknown model), 2 bad argument (NULL pointer, unknown method or layer, class out of range),
 * 3 internal error. ecam_last_error() is the one-line message of the calling thread's last failure. A loaded
 * model may be used by several threads at once; an explanation belongs to one thread at a time. The library
 * never prints. */
#ifndef ENTROPYCAM_H
#define ENTROPYCAM_H
#include <stddef.h>

#if defined(_WIN32)
#define ECAM_C_API
#else
#define ECAM_C_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ecam_model ecam_model;
typedef struct ecam_explanation ecam_explanation;

/* "MAJOR.MINOR.PATCH". */
ECAM_C_API const char* ecam_version(void);
/* The calling thread's last error message ("" if none); valid until that thread's next failing call. */
ECAM_C_API const char* ecam_last_error(void);

/* A path to an .ecw or .tflite file, or the NAME of a converted model (ENTROPYCAM_WEIGHTS_DIR, build/weights,
 * then the installed PREFIX/share/entropycam/weights). */
ECAM_C_API int ecam_model_load(const char* name_or_path, ecam_model** out);
/* The bytes of an .ecw or .tflite file, copied. */
ECAM_C_API int ecam_model_load_memory(const void* data, size_t size, ecam_model** out);
ECAM_C_API void ecam_model_free(ecam_model* model);
/* The number of outputs (classes) and the label of one (NULL when out of range; valid while the model lives). */
ECAM_C_API int ecam_model_class_count(const ecam_model* model);
ECAM_C_API const char* ecam_model_label(const ecam_model* model, int index);

/* The k most probable classes, best first: indices[0..k) and probabilities[0..k) (either may be NULL).
 * k is clamped to the number of classes; entries past it are set to -1 and 0. */
ECAM_C_API int ecam_classify_file(const ecam_model* model, const char* image_path, int k, int* indices, float* probabilities);
ECAM_C_API int ecam_classify_rgb(const ecam_model* model, const unsigned char* rgb, int width, int height, int k,
                                 int* indices, float* probabilities);

/* methods: comma list as on the command line ("gradcam,hirescam"), NULL = the poster's five, "all" = all twelve
 * (Score-CAM among them runs the network once per channel); layer: NULL = the
 * default layer; class_index: -1 = top-1. rgb: width x height x 3 bytes, row-major, any size (resized). */
ECAM_C_API int ecam_explain_file(const ecam_model* model, const char* image_path, const char* methods, const char* layer,
                                 int class_index, ecam_explanation** out);
ECAM_C_API int ecam_explain_rgb(const ecam_model* model, const unsigned char* rgb, int width, int height, const char* methods,
                                const char* layer, int class_index, ecam_explanation** out);

/* The number of maps (one per method, in the order asked), the explained class, and a map's method name. */
ECAM_C_API int ecam_explanation_count(const ecam_explanation* e);
ECAM_C_API int ecam_explanation_class(const ecam_explanation* e);
ECAM_C_API float ecam_explanation_probability(const ecam_explanation* e);
ECAM_C_API const char* ecam_explanation_layer(const ecam_explanation* e);
ECAM_C_API const char* ecam_explanation_method(const ecam_explanation* e, int i);
/* Warnings (Feature Entropy-CAM is class-free; a constant gradient at this layer): count, then each line. */
ECAM_C_API int ecam_explanation_warning_count(const ecam_explanation* e);
ECAM_C_API const char* ecam_explanation_warning(const ecam_explanation* e, int i);

/* the map before ReLU at the layer's resolution (what `explain --raw` writes), and the normalised map
   upsampled to the input image's size; pointers stay valid until ecam_explanation_free */
ECAM_C_API int ecam_explanation_raw(const ecam_explanation* e, int i, const float** data, int* width, int* height);
ECAM_C_API int ecam_explanation_map(const ecam_explanation* e, int i, const float** data, int* width, int* height);
/* The normalised map at the layer's resolution, and the channel weights (count 0 for HiResCAM). */
ECAM_C_API int ecam_explanation_normalized(const ecam_explanation* e, int i, const float** data, int* width, int* height);
ECAM_C_API int ecam_explanation_weights(const ecam_explanation* e, int i, const float** data, int* count);
/* Map i in jet colours blended over an image: into out_rgb (width x height x 3 bytes, the caller's), or as a PNG. */
ECAM_C_API int ecam_overlay_rgb(const ecam_explanation* e, int i, const unsigned char* rgb, int width, int height,
                                unsigned char* out_rgb);
ECAM_C_API int ecam_write_overlay_png(const ecam_explanation* e, int i, const char* image_path, const char* png_path);
ECAM_C_API void ecam_explanation_free(ecam_explanation* e);

#ifdef __cplusplus
}
#endif
#endif
