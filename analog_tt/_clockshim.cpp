// Deterministic seeds for aihwkit's C++ random generators, without modifying aihwkit.
//
// aihwkit 1.1.0 seeds every simulator tile's random generator (pulse trains, read noise,
// cycle-to-cycle variation) from std::chrono::system_clock::now() when the tile is built, and
// exposes no Python call to seed it. This library, loaded with RTLD_GLOBAL before torch (or via
// LD_PRELOAD), interposes system_clock::now(): normally it returns the real clock; after
// analog_tt_clock_fix(base) it returns base, base+1, base+2, ... so tiles built afterwards get
// seeds fixed by `base` and their order of construction. analog_tt_clock_release() restores the
// real clock. Python's own clocks (time.time, time.monotonic) do not go through this function.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <dlfcn.h>

namespace {
std::atomic<long long> next_tick{0};
std::atomic<int> fixed{0};
}  // namespace

extern "C" {
void analog_tt_clock_fix(long long base) {
  next_tick.store(base);
  fixed.store(1);
}
void analog_tt_clock_release() { fixed.store(0); }
int analog_tt_clock_is_fixed() { return fixed.load(); }
long long analog_tt_clock_next() { return next_tick.load(); }
}

namespace std {
namespace chrono {
inline namespace _V2 {
system_clock::time_point system_clock::now() noexcept {
  if (fixed.load()) return time_point(duration(next_tick.fetch_add(1)));
  using real_now_t = system_clock::time_point (*)();
  static real_now_t real_now =
      reinterpret_cast<real_now_t>(dlsym(RTLD_NEXT, "_ZNSt6chrono3_V212system_clock3nowEv"));
  if (real_now) return real_now();
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return time_point(duration(static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec));
}
}  // namespace _V2
}  // namespace chrono
}  // namespace std
