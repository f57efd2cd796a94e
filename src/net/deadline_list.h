#pragma once
// Timeouts without per-request timer churn. Every entry of a list has the same timeout, so
// appending at the tail keeps the list sorted by deadline: arming and disarming are O(1)
// pointer updates and a single periodic sweep per worker expires entries from the head.
// (libuv timers would cost a heap insert/remove per request even when they never fire.)

#include <cstdint>

namespace fiberlb::net {

class DeadlineList;

// Embedded in the object that owns the timeout. Worker-local.
class Deadline {
 public:
  Deadline() = default;
  ~Deadline() { disarm(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  bool armed() const { return list_ != nullptr; }
  inline void disarm();

  // The object this deadline belongs to, for the sweep to hand the timeout back to it.
  void* owner = nullptr;

 private:
  friend class DeadlineList;
  DeadlineList* list_ = nullptr;
  Deadline* prev_ = nullptr;
  Deadline* next_ = nullptr;
  uint64_t start_ms_ = 0;
};

class DeadlineList {
 public:
  explicit DeadlineList(uint64_t timeout_ms = 0) : timeout_ms_(timeout_ms) {}
  ~DeadlineList() {
    while (head_ != nullptr)
      head_->disarm();
  }
  DeadlineList(const DeadlineList&) = delete;
  DeadlineList& operator=(const DeadlineList&) = delete;

  // A reload may change the timeout; order by start time stays valid.
  void setTimeout(uint64_t timeout_ms) { timeout_ms_ = timeout_ms; }
  uint64_t timeout() const { return timeout_ms_; }

  // (Re)arms `d` to expire timeout() after `now_ms`.
  void arm(Deadline* d, uint64_t now_ms) {
    d->disarm();
    d->list_ = this;
    d->start_ms_ = now_ms;
    d->prev_ = tail_;
    d->next_ = nullptr;
    if (tail_ != nullptr) {
      tail_->next_ = d;
    } else {
      head_ = d;
    }
    tail_ = d;
  }

  // Pops the oldest entry if it has expired at `now_ms`, else nullptr. The caller maps the
  // Deadline back to its owner and handles the timeout.
  Deadline* popExpired(uint64_t now_ms) {
    Deadline* d = head_;
    if (d == nullptr || d->start_ms_ + timeout_ms_ > now_ms) return nullptr;
    d->disarm();
    return d;
  }

  bool empty() const { return head_ == nullptr; }

 private:
  friend class Deadline;
  void unlink(Deadline* d) {
    if (d->prev_ != nullptr) {
      d->prev_->next_ = d->next_;
    } else {
      head_ = d->next_;
    }
    if (d->next_ != nullptr) {
      d->next_->prev_ = d->prev_;
    } else {
      tail_ = d->prev_;
    }
  }

  uint64_t timeout_ms_;
  Deadline* head_ = nullptr;
  Deadline* tail_ = nullptr;
};

inline void Deadline::disarm() {
  if (list_ == nullptr) return;
  list_->unlink(this);
  list_ = nullptr;
  prev_ = next_ = nullptr;
}

}  // namespace fiberlb::net
