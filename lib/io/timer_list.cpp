// TimerList (see timer_list.hpp): a binary min-heap whose entries know their position, so
// that disarming one is O(log n) without a search.
#include "io/timer_list.hpp"

#include <utility>

namespace anytls::io {

void TimerList::place(std::size_t i, TimerEntry* entry) {
    heap_[i] = entry;
    entry->index = i;
}

void TimerList::sift_up(std::size_t i) {
    TimerEntry* entry = heap_[i];
    while (i > 0) {
        const std::size_t parent = (i - 1) / 2;
        if (!(entry->at < heap_[parent]->at)) break;
        place(i, heap_[parent]);
        i = parent;
    }
    place(i, entry);
}

void TimerList::sift_down(std::size_t i) {
    TimerEntry* entry = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && heap_[child + 1]->at < heap_[child]->at) ++child;
        if (!(heap_[child]->at < entry->at)) break;
        place(i, heap_[child]);
        i = child;
    }
    place(i, entry);
}

void TimerList::arm(TimerEntry& entry, TimePoint at) {
    if (entry.armed()) disarm(entry);
    entry.at = at;
    heap_.push_back(&entry);
    entry.index = heap_.size() - 1;
    sift_up(entry.index);
}

void TimerList::disarm(TimerEntry& entry) {
    if (!entry.armed()) return;
    const std::size_t i = entry.index;
    entry.index = TimerEntry::kNotArmed;
    TimerEntry* last = heap_.back();
    heap_.pop_back();
    if (last == &entry) return;
    place(i, last);
    sift_down(i);
    sift_up(last->index);
}

std::optional<TimePoint> TimerList::earliest() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front()->at;
}

TimerEntry* TimerList::pop_due(TimePoint now) {
    if (heap_.empty() || now < heap_.front()->at) return nullptr;
    TimerEntry* entry = heap_.front();
    disarm(*entry);
    return entry;
}

}  // namespace anytls::io
