#pragma once
// llhttp, wrapped for a proxy: the head is captured as spans into the caller's buffer (no
// copies), body bytes and message boundaries are handed to a sink, and the extra checks of
// SPEC §5 that llhttp does not make itself are applied.

#include <llhttp.h>

#include <cstddef>
#include <cstdint>

#include "src/http/message_head.h"

namespace fiberlb::http {

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // The head is complete and valid. Return false to abort parsing (the owner has failed the
  // exchange). `head` stays valid until the next message begins.
  virtual bool onHeadersComplete(MessageHead& head) = 0;
  virtual void onBody(const char* data, size_t len) = 0;
  virtual void onMessageComplete() = 0;
};

enum class ParseStatus {
  Ok,            // everything consumed; more input welcome
  Paused,        // a message completed; the parser stops at consumed() until resume()
  Upgrade,       // upgrade/CONNECT: bytes after consumed() belong to the tunnel
  Aborted,       // the sink returned false
  BadMessage,    // malformed or rejected by a smuggling rule -> 400 / 502
  HeadTooLarge,  // > kMaxHeaders fields -> 431
};

class Parser {
 public:
  // `pause_after_message`: stop after each message (requests: answer in order).
  Parser(llhttp_type_t type, MessageSink* sink);
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Parses [data, data+len). `base` is the start of the buffer holding this message's head;
  // the head's spans are relative to it, so earlier parts of a head must still be there.
  ParseStatus execute(const char* base, const char* data, size_t len);
  // Signals EOF (read-until-close bodies end here). True if that completed a message.
  bool finish();
  void resume() { llhttp_resume(&parser_); }
  void reset();

  // Bytes of the last execute() consumed before it stopped (Paused/Upgrade).
  size_t consumed() const { return consumed_; }
  // The head is still being received (for the 64 KiB and client_header_ms limits).
  bool inHead() const { return in_message_ && !head_done_; }
  bool inMessage() const { return in_message_; }
  bool keepAlive() const { return llhttp_should_keep_alive(&parser_) != 0; }
  bool chunked() const { return (parser_.flags & F_CHUNKED) != 0; }
  bool hasContentLength() const { return (parser_.flags & F_CONTENT_LENGTH) != 0; }
  uint64_t contentLength() const { return parser_.content_length; }
  bool upgrade() const { return parser_.upgrade != 0; }
  const char* errorReason() const { return error_reason_; }
  MessageHead& head() { return head_; }
  // For responses: the request was HEAD, so the response has no body whatever it says.
  void setSkipBody(bool skip) { skip_body_ = skip; }

 private:
  static const llhttp_settings_t* settings();
  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onStatus(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderFieldComplete(llhttp_t* p);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* p);
  static int onHeadersComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);

  uint32_t offsetOf(const char* at) const { return static_cast<uint32_t>(at - base_); }
  static void extend(Span* span, uint32_t offset, size_t len);
  bool checkValue(Span value);

  llhttp_t parser_{};
  MessageSink* sink_;
  MessageHead head_;
  const char* base_ = nullptr;
  size_t consumed_ = 0;
  const char* error_reason_ = nullptr;
  bool in_message_ = false;
  bool head_done_ = false;
  bool in_field_ = false;
  bool in_value_ = false;
  bool too_many_headers_ = false;
  bool aborted_ = false;
  bool skip_body_ = false;
};

}  // namespace fiberlb::http
