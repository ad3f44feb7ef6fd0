// A CPU allocator for libtorch that keeps freed large blocks for the next step.
//
// Why: libtorch's default CPU allocator is posix_memalign/free. glibc serves large blocks with
// mmap (and trims the heaps of the engine thread's arena), so every step hands its activations
// back to the kernel and faults them in again, zero-filled: on the article's case (MiniLM-L6,
// b16 x 256) 7 M page faults and 36-49 s of system time in a 111-118 s run. A training step
// allocates the same sizes step after step, so reusing them removes that cost.
//
// Blocks of at least kCacheMin bytes are rounded up to one of 8 classes per power of two (at
// most 12.5 % more) and, once freed, kept (up to a byte limit, least recently freed evicted
// first) for a later request of that class or up to a quarter more. Smaller blocks go straight
// to the system allocator. Every block carries a 64-byte header with its capacity, so one
// deleter frees both kinds (libtorch's raw_deleter contract) and data stays 64-byte aligned as
// c10's is.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#ifdef _WIN32
#include <malloc.h>  // _aligned_malloc
#endif

namespace {
constexpr size_t kAlign = 64;  // c10's gAlignment
constexpr size_t kHeader = kAlign;
constexpr size_t kCacheMin = size_t{64} << 10;

struct Header {
  size_t capacity;  // usable bytes after the header
};

size_t size_class(size_t n) {
  if (n < kCacheMin) return n;
  int octave = 0;  // floor(log2(n))
  for (size_t m = n; m > 1; m >>= 1) octave++;
  const size_t step = size_t{1} << (octave - 3);
  return (n + step - 1) & ~(step - 1);
}

void* aligned_alloc_or_null(size_t bytes) {
#ifdef _WIN32
  return _aligned_malloc(bytes, kAlign);
#else
  void* p = nullptr;
  return posix_memalign(&p, kAlign, bytes) == 0 ? p : nullptr;
#endif
}

void aligned_free(void* p) {
#ifdef _WIN32
  _aligned_free(p);
#else
  std::free(p);
#endif
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    if (n == 0) return {nullptr, nullptr, &Delete, c10::Device(c10::DeviceType::CPU)};
    void* data = Take(n);
    return {data, data, &Delete, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Delete; }
  void copy_data(void* dest, const void* src, size_t count) const override { default_copy_data(dest, src, count); }

  void Configure(size_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = limit;
    EvictTo(limit_);
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mutex_);
    EvictTo(0);
  }
  void Stats(uint64_t* hits, uint64_t* misses, uint64_t* cached_bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    *hits = hits_;
    *misses = misses_;
    *cached_bytes = cached_;
  }

 private:
  struct Entry {
    void* base;
    uint64_t freed_at;
  };

  static void Delete(void* data);

  void* Take(size_t n) {
    const size_t capacity = size_class(n);
    if (capacity >= kCacheMin) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(capacity);
      if (it != free_.end() && it->first <= capacity + capacity / 4) {
        void* base = it->second.base;
        cached_ -= it->first;
        free_.erase(it);
        hits_++;
        return static_cast<char*>(base) + kHeader;
      }
      misses_++;
    }
    void* base = aligned_alloc_or_null(kHeader + capacity);
    if (base == nullptr) {
      Release();  // what the cache holds may be enough for this request
      base = aligned_alloc_or_null(kHeader + capacity);
    }
    TORCH_CHECK(base != nullptr, "DefaultCPUAllocator: not enough memory: you tried to allocate ", n, " bytes.");
    static_cast<Header*>(base)->capacity = capacity;
    return static_cast<char*>(base) + kHeader;
  }

  void Give(void* data) {
    void* base = static_cast<char*>(data) - kHeader;
    const size_t capacity = static_cast<Header*>(base)->capacity;
    if (capacity >= kCacheMin) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (capacity <= limit_) {
        EvictTo(limit_ - capacity);
        free_.emplace(capacity, Entry{base, ++clock_});
        cached_ += capacity;
        return;
      }
    }
    aligned_free(base);
  }

  // Frees the least recently freed blocks until at most `bytes` stay cached. Called with the
  // lock held; a linear scan, which only runs once the limit is reached.
  void EvictTo(size_t bytes) {
    while (cached_ > bytes) {
      auto oldest = free_.begin();
      for (auto it = free_.begin(); it != free_.end(); ++it)
        if (it->second.freed_at < oldest->second.freed_at) oldest = it;
      cached_ -= oldest->first;
      aligned_free(oldest->second.base);
      free_.erase(oldest);
    }
  }

  std::mutex mutex_;
  std::multimap<size_t, Entry> free_;
  size_t cached_ = 0;
  size_t limit_ = 0;
  uint64_t clock_ = 0, hits_ = 0, misses_ = 0;
};

// Never destroyed: tensors may be freed during static destruction, after any destructor ran.
CachingCpuAllocator* const g_allocator = new CachingCpuAllocator();

void CachingCpuAllocator::Delete(void* data) {
  if (data != nullptr) g_allocator->Give(data);
}
}  // namespace

// Makes the caching allocator libtorch's CPU allocator, keeping up to `limit_bytes` of freed
// blocks (0: cache nothing). Tensors allocated before keep their own deleter.
extern "C" void ftune_cpu_cache_install(uint64_t limit_bytes) {
  g_allocator->Configure(limit_bytes);
  c10::SetCPUAllocator(g_allocator, /*priority=*/1);
}

extern "C" void ftune_cpu_cache_release() { g_allocator->Release(); }

extern "C" void ftune_cpu_cache_stats(uint64_t* hits, uint64_t* misses, uint64_t* cached_bytes) {
  g_allocator->Stats(hits, misses, cached_bytes);
}
