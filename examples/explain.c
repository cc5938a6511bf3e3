/* Explains an image with every CAM method through the C API and prints each raw map (the layer-resolution map
 * before ReLU, what `entropycam explain --raw` writes) as text. Build against an installed entropycam:
 *   cc explain.c $(pkg-config --cflags --libs entropycam) -o explain_c */
#include <stdio.h>

#include <entropycam/entropycam.h>

int main(int argc, char** argv) {
    ecam_model* model = NULL;
    ecam_explanation* e = NULL;
    int rc, i, j, w, h;
    const float* raw;
    if (argc < 2) { fprintf(stderr, "usage: explain_c IMAGE [MODEL]\n"); return 2; }
    rc = ecam_model_load(argc > 2 ? argv[2] : "mobilenet_v2_1.0_224_quant", &model);
    if (rc == 0) rc = ecam_explain_file(model, argv[1], NULL, NULL, -1, &e);
    if (rc != 0) {
        fprintf(stderr, "explain_c: %s\n", ecam_last_error());
        ecam_model_free(model);
        return rc;
    }
    printf("class %d\n", ecam_explanation_class(e));
    for (i = 0; i < ecam_explanation_count(e); ++i) {
        ecam_explanation_raw(e, i, &raw, &w, &h);
        printf("%s %d %d", ecam_explanation_method(e, i), w, h);
        for (j = 0; j < w * h; ++j) printf(" %.9g", raw[j]);
        printf("\n");
    }
    ecam_explanation_free(e);
    ecam_model_free(model);
    return 0;
}
