#include "plugin/unit_of_work.hpp"

#include "base/clock.hpp"
#include "store/inbox.hpp"

namespace plexus::plugin {
namespace {
constexpr const char* kSavepoint = "plexus_part";
constexpr const char* kCheckpoint = "plexus_batch";
}  // namespace

void Part::undoSince(Mark mark) {
  if (outgoing.size() > mark.outgoing) outgoing.resize(mark.outgoing);
  projected = mark.projected;
  projectedInbox.resize(mark.projectedInbox);
  std::vector<AfterCommit> undone(afterCommit.begin() + static_cast<long>(mark.afterCommit),
                                  afterCommit.end());
  afterCommit.resize(mark.afterCommit);
  runAfterCommit(undone, false);
}

UnitOfWork::UnitOfWork(store::Store& store, const Clock& clock, std::function<void()> wrote)
    : owned_(store.begin()), tx_(owned_.get()), clock_(clock), onWrote_(std::move(wrote)) {}

UnitOfWork::UnitOfWork(store::Transaction& borrowed, const Clock& clock,
                       std::function<void()> wrote)
    : tx_(&borrowed), clock_(clock), onWrote_(std::move(wrote)) {}

UnitOfWork::~UnitOfWork() {
  if (done_) return;
  owned_.reset();  // rolls back
  runAfterCommit(kept_, false);
}

void UnitOfWork::beginPart() {
  tx_->savepoint(kSavepoint);
  inPart_ = true;
}

void UnitOfWork::keep(Part&& part, const std::string* messageId, const std::string* handler,
                      bool batched) {
  const bool handled = messageId != nullptr && handler != nullptr;
  if (batched) {
    for (auto& o : part.outgoing) batchedMessages_.push_back(o);
    if (handled) batchedInbox_.emplace_back(*messageId, *handler);
    for (auto& key : part.projectedInbox) batchedInbox_.push_back(std::move(key));
  } else {
    const int64_t now = clock_.nowMs();
    store::appendOutgoing(*tx_, part.outgoing, now);
    if (handled) part.projectedInbox.emplace_back(*messageId, *handler);
    if (part.projectedInbox.size() == 1) {
      store::inbox::record(*tx_, part.projectedInbox[0].first, part.projectedInbox[0].second, now);
    } else if (!part.projectedInbox.empty()) {
      store::inbox::recordAll(*tx_, part.projectedInbox, now);
    }
  }
  if (inPart_) tx_->release(kSavepoint);
  inPart_ = false;
  wrote_ = wrote_ || !part.outgoing.empty();
  for (auto& cb : part.afterCommit) kept_.push_back(cb);
  part.afterCommit.clear();
}

void UnitOfWork::discard(Part&& part) {
  if (inPart_) {
    tx_->rollbackTo(kSavepoint);
    tx_->release(kSavepoint);
  }
  inPart_ = false;
  runAfterCommit(part.afterCommit, false);
}

void UnitOfWork::flush() {
  const int64_t now = clock_.nowMs();
  if (!batchedMessages_.empty()) store::appendOutgoingBatch(*tx_, batchedMessages_, now);
  if (!batchedInbox_.empty()) store::inbox::recordAll(*tx_, batchedInbox_, now);
  batchedMessages_.clear();
  batchedInbox_.clear();
}

UnitOfWork::Checkpoint UnitOfWork::checkpoint() {
  tx_->savepoint(kCheckpoint);
  return {kept_.size(), wrote_, batchedMessages_.size(), batchedInbox_.size()};
}

void UnitOfWork::releaseCheckpoint() { tx_->release(kCheckpoint); }

void UnitOfWork::rollbackTo(const Checkpoint& c) {
  std::vector<AfterCommit> undone(kept_.begin() + static_cast<long>(c.kept), kept_.end());
  kept_.resize(c.kept);
  wrote_ = c.wrote;
  batchedMessages_.resize(c.batchedMessages);
  batchedInbox_.resize(c.batchedInbox);
  inPart_ = false;
  runAfterCommit(undone, false);
  tx_->rollbackTo(kCheckpoint);
  tx_->release(kCheckpoint);
}

void UnitOfWork::commit() {
  try {
    flush();
    tx_->commit();
  } catch (const store::SqlError&) {
    finish(false);
    throw;
  }
  owned_.reset();  // free the connection before after-commit work (it may open its own)
  finish(true);
}

void UnitOfWork::finish(bool committed) {
  done_ = true;
  runAfterCommit(kept_, committed);
  if (committed && wrote_ && onWrote_) onWrote_();
}

}  // namespace plexus::plugin
