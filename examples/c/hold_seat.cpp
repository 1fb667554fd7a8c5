// hold_seat.cpp: holds a floating-license seat while it works, from C++, with the C ABI of
// license-client (license-client-c/include/license_client.h), wrapped in RAII handles.
//
// Like hold_seat.c, but learns of an eviction through the seat callback (an atomic flag)
// as well as the status poll. Same settings and exit codes:
//   LC_SERVER, LC_CREDENTIAL, LC_LICENSE_KEY, LC_HARDWARE_ID, LC_KEY_SET_FILE,
//   LC_ROOT_KEY_SET_FILE (optional), LC_WORK_SECONDS (default 5).
//   Exit codes: 0 done and released, 1 error, 4 seat lost, 5 evicted.
//
// Build:
//   c++ -std=c++17 hold_seat.cpp -I license-client-c/include -L target/debug
//       -llicense_client_c -Wl,-rpath,target/debug -o hold_seat_cpp
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "license_client.h"

namespace {

struct ClientFree {
    void operator()(LcClient* client) const { lc_client_free(client); }
};
struct SeatFree {
    void operator()(LcSeat* seat) const { lc_seat_free(seat); }  // releases if still held
};
using Client = std::unique_ptr<LcClient, ClientFree>;
using Seat = std::unique_ptr<LcSeat, SeatFree>;

std::string setting(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
        throw std::runtime_error(std::string(name) + " is not set");
    }
    return value;
}

std::optional<std::string> read_file(const char* path) {
    if (path == nullptr) return std::nullopt;
    std::ifstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error(std::string("cannot read ") + path);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

// Set from the library's thread by the callback.
std::atomic<bool> evicted{false};

extern "C" void on_state(LcSeatState state, void* /*user_data*/) {
    if (state == LC_SEAT_STATE_EVICTED) evicted = true;
}

int run() {
    auto key_set = read_file(setting("LC_KEY_SET_FILE").c_str());
    auto root_key_set = read_file(std::getenv("LC_ROOT_KEY_SET_FILE"));
    const char* work = std::getenv("LC_WORK_SECONDS");
    const auto work_for = std::chrono::seconds(work != nullptr ? std::atol(work) : 5);

    LcClient* opened = nullptr;
    if (lc_client_open(setting("LC_SERVER").c_str(), setting("LC_CREDENTIAL").c_str(),
                       setting("LC_LICENSE_KEY").c_str(), setting("LC_HARDWARE_ID").c_str(),
                       key_set->c_str(), root_key_set ? root_key_set->c_str() : nullptr,
                       &opened) != LC_STATUS_OK) {
        std::cerr << "hold_seat: cannot open the client: " << lc_last_error() << "\n";
        return 1;
    }
    Client client(opened);

    LcSeat* acquired = nullptr;
    if (LcStatus status = lc_acquire(client.get(), &acquired); status != LC_STATUS_OK) {
        std::cerr << "hold_seat: no seat: " << lc_last_error() << "\n";
        return status == LC_STATUS_EVICTED ? 5 : 1;
    }
    Seat seat(acquired);
    std::cout << "acquired" << std::endl;
    if (lc_seat_verify(seat.get()) != LC_STATUS_OK) {
        std::cerr << "hold_seat: the lease does not verify: " << lc_last_error() << "\n";
        return 1;
    }
    bool export_granted = false;
    lc_seat_has_entitlement(seat.get(), "export", &export_granted);
    std::cout << "verified offline (export " << (export_granted ? "granted" : "not granted")
              << ")" << std::endl;
    lc_seat_set_callback(seat.get(), on_state, nullptr);
    std::cout << "holding" << std::endl;

    const auto until = std::chrono::steady_clock::now() + work_for;
    while (std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the work
        LcSeatState state = lc_seat_status(seat.get());
        if (evicted || state == LC_SEAT_STATE_EVICTED) {
            std::cout << "evicted" << std::endl;
            return 5;
        }
        if (state == LC_SEAT_STATE_LOST) {
            std::cout << "lost" << std::endl;
            return 4;
        }
    }
    if (lc_seat_release(seat.get()) != LC_STATUS_OK) {
        std::cerr << "hold_seat: release failed: " << lc_last_error() << "\n";
        return 1;
    }
    std::cout << "released" << std::endl;
    return 0;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const std::exception& e) {
        std::cerr << "hold_seat: " << e.what() << "\n";
        return 1;
    }
}
