/* hold_seat.c: holds a floating-license seat while it works, with the C ABI of
 * license-client (license-client-c/include/license_client.h).
 *
 * Acquires a seat, verifies the lease offline against the tenant's key set (pinned to the
 * root key set when given), works in a loop while polling the seat's status, and releases
 * on exit. Evicted by an administrator: stops at once, exit code 5.
 *
 * Settings (environment):
 *   LC_SERVER, LC_CREDENTIAL (a client API key), LC_LICENSE_KEY, LC_HARDWARE_ID,
 *   LC_KEY_SET_FILE (the tenant's /api/v1/tenants/{id}/jwks.json),
 *   LC_ROOT_KEY_SET_FILE (optional: /.well-known/jwks.json), LC_WORK_SECONDS (default 5).
 * Exit codes: 0 done and released, 1 error, 4 seat lost, 5 evicted.
 *
 * Build: cc -std=c11 hold_seat.c -I license-client-c/include -L target/debug \
 *          -llicense_client_c -Wl,-rpath,target/debug -o hold_seat
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "license_client.h"

static const char *setting(const char *name) {
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        fprintf(stderr, "hold_seat: %s is not set\n", name);
        exit(1);
    }
    return value;
}

/* The whole file as a string the caller frees; NULL when path is NULL. */
static char *read_file(const char *path) {
    if (path == NULL) return NULL;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        perror(path);
        exit(1);
    }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    rewind(file);
    char *text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, file) != (size_t)size) {
        fprintf(stderr, "hold_seat: cannot read %s\n", path);
        exit(1);
    }
    text[size] = '\0';
    fclose(file);
    return text;
}

static void sleep_ms(long ms) {
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

int main(void) {
    char *key_set = read_file(setting("LC_KEY_SET_FILE"));
    char *root_key_set = read_file(getenv("LC_ROOT_KEY_SET_FILE"));
    const char *work = getenv("LC_WORK_SECONDS");
    long work_ms = (work != NULL ? atol(work) : 5) * 1000;

    LcClient *client = NULL;
    if (lc_client_open(setting("LC_SERVER"), setting("LC_CREDENTIAL"), setting("LC_LICENSE_KEY"),
                       setting("LC_HARDWARE_ID"), key_set, root_key_set,
                       &client) != LC_STATUS_OK) {
        fprintf(stderr, "hold_seat: cannot open the client: %s\n", lc_last_error());
        return 1;
    }
    free(key_set);
    free(root_key_set);

    LcSeat *seat = NULL;
    LcStatus acquired = lc_acquire(client, &seat);
    if (acquired != LC_STATUS_OK) {
        fprintf(stderr, "hold_seat: no seat: %s\n", lc_last_error());
        lc_client_free(client);
        return acquired == LC_STATUS_EVICTED ? 5 : 1;
    }
    printf("acquired\n");
    if (lc_seat_verify(seat) != LC_STATUS_OK) {
        fprintf(stderr, "hold_seat: the lease does not verify: %s\n", lc_last_error());
        lc_seat_free(seat);
        lc_client_free(client);
        return 1;
    }
    bool export_granted = false;
    if (lc_seat_has_entitlement(seat, "export", &export_granted) != LC_STATUS_OK) {
        fprintf(stderr, "hold_seat: %s\n", lc_last_error());
    }
    printf("verified offline (export %s)\n", export_granted ? "granted" : "not granted");
    printf("holding\n");
    fflush(stdout);

    int code = 0;
    for (long waited = 0; waited < work_ms; waited += 100) {
        sleep_ms(100); /* the work */
        LcSeatState state = lc_seat_status(seat);
        if (state == LC_SEAT_STATE_EVICTED) {
            printf("evicted\n");
            code = 5;
            break;
        }
        if (state == LC_SEAT_STATE_LOST) {
            printf("lost\n");
            code = 4;
            break;
        }
    }
    if (code == 0) {
        if (lc_seat_release(seat) != LC_STATUS_OK) {
            fprintf(stderr, "hold_seat: release failed: %s\n", lc_last_error());
        } else {
            printf("released\n");
        }
    }
    lc_seat_free(seat);
    lc_client_free(client);
    return code;
}
