/* consumer.c: a program outside the ima tree, built against an installed libima (tests/install/run.sh):
 * builds the digits model (latent 2) from its preset, embeds two random image rows with the speech
 * modality missing, and checks the shapes and that a bad configuration is an error, not an exit. */
#include <ima/api.h>
#include <ima/eval.h>
#include <ima/train.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *json = NULL;
    ima_api_model *h = NULL;
    if (ima_api_preset_json(&json, "digits", 2) || ima_api_model_new(&h, json, 1)) {
        fprintf(stderr, "consumer: %s\n", ima_last_error());
        return 1;
    }
    ima_api_string_free(json);
    static float img[2 * 784], u[2 * 2], y[2], zw[2 * 2], zu[2 * 2];
    for (int k = 0; k < 2 * 784; k++) img[k] = (float)(k % 7) / 7.0f;
    const float *x[2] = {img, NULL};
    size_t rows[2] = {2, 0}, cols[2] = {784, 0};
    float *us[2] = {u, NULL}, *ys[2] = {y, NULL};
    if (ima_api_embed(h, x, rows, cols, NULL, 2, 1024, us, ys, zw, zu)) {
        fprintf(stderr, "consumer: %s\n", ima_last_error());
        return 1;
    }
    /* with one modality present both fusions equal its code */
    for (int k = 0; k < 4; k++)
        if (!isfinite(u[k]) || zw[k] != u[k] || zu[k] != u[k]) {
            fprintf(stderr, "consumer: fusion of one modality differs from its code at %d\n", k);
            return 1;
        }
    ima_api_model *bad = NULL;
    if (ima_api_model_new(&bad, "{\"n_modalities\": 0}", 1) == 0 || !strstr(ima_last_error(), "model configuration")) {
        fprintf(stderr, "consumer: a bad configuration was accepted (or the message is wrong: %s)\n", ima_last_error());
        return 1;
    }
    printf("libima %s: u_image = (%.4f, %.4f), y_image = %.4f\n", ima_api_version(), u[0], u[1], y[0]);
    ima_api_model_free(h);
    return 0;
}
