// A hostile server (docs/RELIABILITY.md): a test-written server that speaks TLS with the test PKI,
// answers the client's Settings and first SYN like a v2 server, then writes crafted frames.
// The client must error or ignore as docs/DESIGN.md, "The protocol", says, never crash, never hang,
// and keep its memory bounded.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "log/log.hpp"
#include "proto/auth_preamble.hpp"
#include "proto/frame.hpp"
#include "proto/frame_decoder.hpp"
#include "reliability/reliability_support.hpp"
#include "tls/tls_connection.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

void put_header(Bytes& out, std::uint8_t command, std::uint32_t id, std::uint16_t length) {
    out.push_back(command);
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(id >> shift));
    out.push_back(static_cast<std::uint8_t>(length >> 8));
    out.push_back(static_cast<std::uint8_t>(length));
}

void put_frame(Bytes& out, proto::Command command, std::uint32_t id, std::string_view data) {
    put_header(out, static_cast<std::uint8_t>(command), id,
               static_cast<std::uint16_t>(data.size()));
    out.insert(out.end(), data.begin(), data.end());
}

// What the hostile server does once the first stream's address arrived: write `chunks` in
// order, then either end the connection (TCP close, no TLS close_notify) or keep serving:
// later streams get a SYNACK and a PSH "second".
struct Script {
    std::vector<Bytes> chunks;
    std::vector<std::size_t> repeat;  // how often chunk i is written (1 when missing)
    bool close_after = false;
};

struct HostileServer {
    explicit HostileServer(Reactor& r) {
        auto l = TcpListener::listen(SocketAddress::loopback_v4(0));
        REQUIRE(l);
        listener = std::move(l).value();
        tls::ServerContextOptions options;
        options.certificate_file = test::test_pki().server_cert;
        options.private_key_file = test::test_pki().server_key;
        auto made = tls::TlsContext::make_server(options);
        REQUIRE(made);
        context = std::move(made).value();
        (void)r;
    }
    TcpListener listener;
    std::shared_ptr<tls::TlsContext> context;
    bool done = false;
    std::string error;
    std::string settings;  // the client's Settings frame, as received
};

Task<void> run_hostile_server(Reactor* r, HostileServer* server, Script script) {
    auto accept = server->listener.accept(*r);
    auto socket = co_await accept;
    if (!socket) {
        server->done = true;
        co_return;
    }
    auto accepted =
        co_await tls::TlsConnection::accept(*r, std::move(socket).value(), server->context, {});
    if (!accepted) {
        server->error = accepted.error().text();
        server->done = true;
        co_return;
    }
    auto connection = std::move(accepted).value();
    proto::AuthPreambleParser parser;
    proto::FrameDecoder decoder;
    std::vector<std::byte> buffer(64 * 1024);
    bool scripted = false;
    while (true) {
        auto n = co_await connection->read(buffer, 10s);
        if (!n || *n == 0) break;
        std::span<const std::uint8_t> input(reinterpret_cast<const std::uint8_t*>(buffer.data()),
                                            *n);
        if (!parser.done()) {
            auto progress = parser.feed(input);
            if (!progress || progress->status != proto::AuthPreambleParser::Status::done) continue;
            input = progress->rest;
        }
        Bytes reply;
        while (auto frame = decoder.next(input)) {
            if (frame->command == proto::Command::settings) {
                server->settings.assign(reinterpret_cast<const char*>(frame->data.data()),
                                        frame->data.size());
                put_frame(reply, proto::Command::server_settings, 0, "v=2");
            }
            if (frame->command == proto::Command::psh && !scripted) {
                scripted = true;
                put_frame(reply, proto::Command::synack, frame->stream_id, "");
                auto sent = co_await connection->write(
                    std::as_bytes(std::span<const std::uint8_t>(reply)), 10s);
                if (!sent) break;
                reply.clear();
                for (std::size_t i = 0; i < script.chunks.size(); ++i) {
                    const std::size_t times = i < script.repeat.size() ? script.repeat[i] : 1;
                    for (std::size_t t = 0; t < times; ++t) {
                        auto written = co_await connection->write(
                            std::as_bytes(std::span<const std::uint8_t>(script.chunks[i])), 10s);
                        if (!written) {
                            server->error = written.error().text();
                            break;
                        }
                    }
                }
                if (script.close_after) {
                    connection->abort();
                    server->done = true;
                    co_return;
                }
            } else if (frame->command == proto::Command::psh && frame->stream_id > 1) {
                put_frame(reply, proto::Command::synack, frame->stream_id, "");
                put_frame(reply, proto::Command::psh, frame->stream_id, "second");
            }
        }
        if (!reply.empty()) {
            auto written = co_await connection->write(
                std::as_bytes(std::span<const std::uint8_t>(reply)), 10s);
            if (!written) break;
        }
    }
    server->done = true;
}

session::ClientConfig client_config(std::uint16_t port) {
    session::ClientConfig config;
    config.server_host = "127.0.0.1";
    config.server_port = port;
    config.password = test::kReliabilityPassword;
    config.ca_file = test::test_pki().ca_cert;
    config.synack_timeout = 5s;
    return config;
}

// Reads until `expected` bytes arrived; returns what was read (stops early on an error/end).
Task<std::string> read_text(session::ClientStream* stream, std::size_t expected,
                            Result<std::size_t>* last) {
    std::string text;
    std::vector<std::byte> buffer(4096);
    while (text.size() < expected) {
        *last = co_await stream->read(buffer, 5s);
        if (!*last || **last == 0) break;
        text.append(reinterpret_cast<const char*>(buffer.data()), **last);
    }
    co_return text;
}

struct Outcome {
    bool opened = false;
    std::string open_error;
    std::string received;
    Result<std::size_t> last_read = std::size_t{0};
    Result<std::size_t> after_read = std::size_t{0};  // one more read after `received`
    bool session_closed = false;
    std::string close_reason;
    std::string second_stream;  // "second" when a second stream on the same session worked
    std::string settings;       // what the server received as the client's Settings
};

Task<void> run_client(Reactor* r, std::uint16_t port,
                      std::shared_ptr<session::PaddingState> padding, std::size_t expected,
                      bool try_second, Outcome* out) {
    auto opened = co_await session::open_session(*r, client_config(port), padding, 1);
    REQUIRE_MESSAGE(opened, opened.error().text());
    auto session = std::move(opened).value();
    {
        auto stream = co_await session->open_stream("127.0.0.1", 9, 5s);
        if (!stream) {
            out->open_error = stream.error().text();
        } else {
            out->opened = true;
            out->received = co_await read_text(&stream.value(), expected, &out->last_read);
            if (out->received.size() >= expected) {
                std::byte b[16];
                out->after_read = co_await stream->read(b, 300ms);
            }
            auto closed = co_await stream->close();
            (void)closed;
        }
    }
    if (try_second && !session->closed()) {
        auto second = co_await session->open_stream("127.0.0.1", 9, 5s);
        if (second) {
            Result<std::size_t> last = std::size_t{0};
            out->second_stream = co_await read_text(&second.value(), 6, &last);
            auto closed = co_await second->close();
            (void)closed;
        }
    }
    out->session_closed = session->closed();
    if (session->close_reason()) out->close_reason = session->close_reason()->text();
    session->close();
}

Outcome run_case(
    Script script, std::size_t expected, bool try_second,
    std::shared_ptr<session::PaddingState> padding = std::make_shared<session::PaddingState>()) {
    Reactor r;
    HostileServer server(r);
    r.spawn(run_hostile_server(&r, &server, std::move(script)));
    Outcome out;
    sync_wait(
        r, run_client(&r, server.listener.address().port(), padding, expected, try_second, &out));
    server.listener.close();
    for (int i = 0; i < 20000 && r.live_tasks() > 0; ++i) r.run_once(true);
    out.settings = server.settings;
    CHECK(r.live_tasks() == 0);
    ++test::figures().faults;
    return out;
}

}  // namespace

TEST_SUITE("reliability.hostile_server") {
    TEST_CASE(
        "a frame longer than the bytes that follow, then EOF: the stream fails, it does not end "
        "cleanly") {
        test::LogCapture logs;
        for (int header_only : {0, 1}) {
            Script script;
            Bytes bytes;
            if (header_only) {
                bytes = {static_cast<std::uint8_t>(proto::Command::psh), 0,
                         0};  // 3 of 7 header bytes
            } else {
                put_header(bytes, static_cast<std::uint8_t>(proto::Command::psh), 1, 1000);
                bytes.insert(bytes.end(), 10, std::uint8_t{'x'});  // 10 of 1000 promised bytes
            }
            script.chunks = {bytes};
            script.close_after = true;
            auto out = run_case(script, 1000, false);  // read until the stream ends or fails
            // The EOF may be read before open_stream() resumes: then the open fails instead.
            if (out.opened) {
                // Stream data is handed on as it arrives (FrameDecoder::split_stream_data), so the
                // bytes that did come may be read, and nothing else...
                CHECK(out.received == std::string(out.received.size(), 'x'));
                CHECK(out.received.size() <= (header_only ? 0u : 10u));
                CHECK_FALSE(
                    out.last_read);  // ...then an error, not a clean end (0) that would hide the loss
            } else {
                CHECK_FALSE(out.open_error.empty());
            }
            CHECK(out.session_closed);
        }
    }

    TEST_CASE("the client's Settings names nothing: v, an empty client= and padding-md5") {
        Script script;
        Bytes bytes;
        put_frame(bytes, proto::Command::psh, 1, "ok");
        script.chunks = {bytes};
        auto padding = std::make_shared<session::PaddingState>();
        const std::string md5 = padding->current()->md5_hex();
        auto out = run_case(script, 2, false, padding);
        REQUIRE(out.opened);
        // One of the three orders a Go client writes (proto/settings.hpp, go_map_rotation).
        const std::array<std::string, 3> orders{"v=2\nclient=\npadding-md5=" + md5,
                                                "client=\npadding-md5=" + md5 + "\nv=2",
                                                "padding-md5=" + md5 + "\nv=2\nclient="};
        CHECK_MESSAGE(std::find(orders.begin(), orders.end(), out.settings) != orders.end(),
                      out.settings);
    }

    TEST_CASE("unknown commands and client-bound junk are skipped by their header only") {
        test::LogCapture logs;
        Script script;
        Bytes bytes;
        put_header(bytes, 11, 1, 5);       // unknown command with a length: header only
        put_header(bytes, 255, 0, 65535);  // the length must not swallow the frames after it
        put_header(bytes, static_cast<std::uint8_t>(proto::Command::syn), 1,
                   9);  // server -> client SYN
        put_header(bytes, static_cast<std::uint8_t>(proto::Command::heart_response), 0, 40);
        put_frame(bytes, proto::Command::waste, 0, std::string(100, '\0'));
        put_frame(bytes, proto::Command::settings, 0, "v=99\nsome=thing");
        put_frame(bytes, proto::Command::psh, 1, "hello");
        put_frame(bytes, proto::Command::fin, 1, "");
        script.chunks = {bytes};
        auto out = run_case(script, 5, true);
        REQUIRE(out.opened);
        CHECK(out.received == "hello");
        REQUIRE(out.after_read);
        CHECK(*out.after_read == 0);           // the FIN: a clean end
        CHECK(out.second_stream == "second");  // the session stayed healthy
        CHECK_FALSE(out.session_closed);
    }

    TEST_CASE("FIN, SYNACK and PSH for unknown stream ids are ignored") {
        test::LogCapture logs;
        Script script;
        Bytes bytes;
        put_frame(bytes, proto::Command::fin, 99, "");
        put_frame(bytes, proto::Command::fin, 0, "");
        put_frame(bytes, proto::Command::synack, 77, "");
        put_frame(bytes, proto::Command::synack, 78, "refused for another stream");
        put_frame(bytes, proto::Command::psh, 55, "not yours");
        put_frame(bytes, proto::Command::psh, 1, "ok");
        script.chunks = {bytes};
        auto out = run_case(script, 2, true);
        REQUIRE(out.opened);
        CHECK(out.received == "ok");
        REQUIRE_FALSE(out.after_read);
        CHECK(out.after_read.error().code == -ETIMEDOUT);  // still open: nothing ended it
        CHECK(out.second_stream == "second");
        CHECK_FALSE(out.session_closed);
    }

    TEST_CASE("an invalid or enormous UpdatePaddingScheme is refused; memory stays bounded") {
        test::LogCapture logs;
        // The default scheme's largest write is ~4.5 KB, far below the bound pushed schemes get.
        CHECK(proto::PaddingScheme::default_scheme().largest_padded_write() < 8000);
        CHECK(proto::PaddingScheme::default_scheme().largest_padded_write() > 4000);
        auto padding = std::make_shared<session::PaddingState>();
        const std::string md5_before = padding->current()->md5_hex();
        Script script;
        {
            Bytes bytes;
            put_frame(bytes, proto::Command::update_padding_scheme, 0,
                      std::string(65535, '\xff'));  // garbage
            put_frame(bytes, proto::Command::update_padding_scheme, 0, "stop=abc\n1=1-2");
            put_frame(bytes, proto::Command::update_padding_scheme, 0, "");
            // Valid syntax, hostile size: 5000 pieces of ~64 KiB per write (~330 MB per write).
            std::string huge = "stop=4294967295\n0=30-30\n1=";
            while (huge.size() + 12 < 65535) huge += "65535-65535,";
            put_frame(bytes, proto::Command::update_padding_scheme, 0, huge);
            script.chunks.push_back(bytes);
        }
        // A 16 MiB attempt: 256 full-size scheme frames of garbage, one TLS write each.
        Bytes garbage;
        put_frame(garbage, proto::Command::update_padding_scheme, 0, std::string(65535, 'z'));
        script.chunks.push_back(garbage);
        script.repeat = {1, 256, 1};
        {
            Bytes bytes;
            put_frame(bytes, proto::Command::psh, 1, "after");
            script.chunks.push_back(bytes);
        }
        const std::size_t rss_before = test::rss_bytes();
        auto out = run_case(script, 5, true, padding);
        const std::size_t rss_after = test::rss_bytes();
        REQUIRE(out.opened);
        CHECK(out.received == "after");
        CHECK(out.second_stream == "second");  // a second stream writes with the (unchanged) scheme
        CHECK_FALSE(out.session_closed);
        CHECK(padding->updates() == 0);
        CHECK(padding->current()->md5_hex() == md5_before);
        MESSAGE("RSS before " << rss_before / 1024 << " KiB, after " << rss_after / 1024 << " KiB");
        // ASan keeps freed memory in quarantine, so RSS says little there; it checks leaks instead.
        // 16 MiB went through; the client holds one frame at a time.
        if (!ANYTLS_TEST_ASAN) CHECK(rss_after < rss_before + 8 * 1024 * 1024);
        const bool refused_huge =
            std::any_of(logs.lines.begin(), logs.lines.end(), [](const std::string& l) {
                return l.find("asks for writes of up to") != std::string::npos;
            });
        CHECK(refused_huge);
    }

    TEST_CASE("an Alert closes the session with the server's text; a huge Alert is handled") {
        test::LogCapture logs;
        for (std::size_t size : {std::size_t{8}, std::size_t{65535}}) {
            Script script;
            Bytes bytes;
            // The long one also tries to forge a log line.
            std::string text = size == 8 ? std::string("go away!") : std::string(size, 'A');
            if (size > 8) text.replace(100, 31, "\n[ERROR] forged line \x1b[31m!!!");
            put_frame(bytes, proto::Command::alert, 0, text);
            script.chunks = {bytes};
            auto out = run_case(script, 1, true);
            if (out.opened) {
                CHECK(out.received.empty());
                REQUIRE_FALSE(out.last_read);
                CHECK(out.last_read.error().code == errc::server_alert);
            } else {
                CHECK(out.open_error.find("alert from server") != std::string::npos);
            }
            CHECK(out.session_closed);
            CHECK(out.close_reason.find(size == 8 ? "go away!" : "AAAA") != std::string::npos);
            CHECK(out.second_stream.empty());
            CHECK(out.close_reason.size() < 400);  // cut
            CHECK(out.close_reason.find('\n') == std::string::npos);
        }
        for (const auto& line : logs.lines) {
            CHECK(line.find('\n') == std::string::npos);
            CHECK(line.find('\x1b') == std::string::npos);
            CHECK(line.size() < 400);
        }
    }

}  // TEST_SUITE
