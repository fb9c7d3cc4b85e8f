// The SOCKS5 entry (RFC 1928, RFC 1929 for username/password): greeting, authentication,
// request, then CONNECT through the pool or UDP ASSOCIATE (udp_associate.cpp). The parsing is
// pure (socks5_parser.hpp); this is its I/O.
#include <fmt/format.h>

#include "client/open_failure.hpp"
#include "inbound/inbound_connection.hpp"
#include "inbound/socks5_parser.hpp"

namespace anytls::inbound {

namespace detail {

io::Task<void> serve_socks5(std::shared_ptr<Connection> c, Bytes buffer, io::Deadline deadline) {
    c->record.protocol = "socks5";
    const auto& options = c->context->options;
    // Greeting.
    Socks5GreetingParse greeting;
    for (;;) {
        auto parsed = parse_socks5_greeting(buffer);
        if (!parsed) {
            fail(*c, parsed.error().text());
            report(*c);
            co_return;
        }
        if (parsed->status == ParseStatus::done) {
            greeting = std::move(parsed).value();
            break;
        }
        if (!co_await read_more(*c, buffer, deadline)) {
            report(*c);
            co_return;
        }
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(greeting.consumed));
    const std::uint8_t method =
        choose_socks5_method(greeting.greeting, options.credentials.has_value());
    const Bytes choice{socks5_version, method};
    if (!co_await send_to_client(*c, as_bytes(choice)) || method == socks5_method_unacceptable) {
        if (method == socks5_method_unacceptable)
            fail(*c, options.credentials
                         ? "the client offered no username/password authentication"
                         : "the client offered no acceptable authentication method");
        report(*c);
        co_return;
    }
    if (method == socks5_method_user_password) {
        Socks5CredentialsParse credentials;
        for (;;) {
            auto parsed = parse_socks5_user_password(buffer);
            if (!parsed) {
                fail(*c, parsed.error().text());
                report(*c);
                co_return;
            }
            if (parsed->status == ParseStatus::done) {
                credentials = std::move(parsed).value();
                break;
            }
            if (!co_await read_more(*c, buffer, deadline)) {
                report(*c);
                co_return;
            }
        }
        buffer.erase(buffer.begin(),
                     buffer.begin() + static_cast<std::ptrdiff_t>(credentials.consumed));
        const bool ok = credentials_match(credentials.credentials, *options.credentials);
        const Bytes status{socks5_user_password_version,
                           static_cast<std::uint8_t>(ok ? 0x00 : 0x01)};
        if (!co_await send_to_client(*c, as_bytes(status)) || !ok) {
            if (!ok) fail(*c, "wrong SOCKS5 username or password");
            report(*c);
            co_return;
        }
    }
    // Request.
    Socks5RequestParse request;
    for (;;) {
        bool unsupported_type = false;
        auto parsed = parse_socks5_request(buffer, &unsupported_type);
        if (!parsed) {
            fail(*c, parsed.error().text());
            const std::uint8_t code = unsupported_type ? socks5_reply::address_type_not_supported
                                                       : socks5_reply::general_failure;
            (void)co_await send_to_client(*c, as_bytes(socks5_failure_reply(code)));
            report(*c);
            co_return;
        }
        if (parsed->status == ParseStatus::done) {
            request = std::move(parsed).value();
            break;
        }
        if (!co_await read_more(*c, buffer, deadline)) {
            report(*c);
            co_return;
        }
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(request.consumed));
    c->record.target = request.request.address.to_string();
    if (request.request.command == static_cast<std::uint8_t>(Socks5Command::udp_associate)) {
        co_await udp_associate(c);
        co_return;
    }
    if (request.request.command != static_cast<std::uint8_t>(Socks5Command::connect)) {
        fail(*c, fmt::format("SOCKS5 command {} is not supported (CONNECT and UDP ASSOCIATE are)",
                             request.request.command));
        (void)co_await send_to_client(
            *c, as_bytes(socks5_failure_reply(socks5_reply::command_not_supported)));
        report(*c);
        co_return;
    }
    // Bytes the client sent right behind its request leave with the SYN.
    c->record.bytes_up += buffer.size();
    auto opened =
        co_await open_through_pool(*c, request.request.address.host(), request.request.address.port,
                                   std::move(buffer), c->context->options.reply_after_synack);
    if (!opened) {
        fail(*c, open_failure_text(*c, opened.error(), c->record.target));
        (void)co_await send_to_client(
            *c, as_bytes(socks5_failure_reply(socks5_reply_for(opened.error()))));
        report(*c);
        co_return;
    }
    c->stream = std::move(opened).value();
    auto local = c->client.local_address();
    auto bound = local
                     ? proto::SocksAddress::from_host(local->host_string(), local->port())
                     : Result<proto::SocksAddress>(proto::SocksAddress::from_ipv4({0, 0, 0, 0}, 0));
    auto reply = socks5_reply_message(
        socks5_reply::succeeded, bound ? *bound : proto::SocksAddress::from_ipv4({0, 0, 0, 0}, 0));
    if (!co_await send_to_client(*c, as_bytes(reply))) {
        (void)co_await c->stream->close();
        report(*c);
        co_return;
    }
    co_await relay(c);
}

}  // namespace detail

std::uint8_t socks5_reply_for(const Error& error) {
    // 0x01 says the proxy failed; 0x03 to 0x05 that the server worked and the target did not.
    switch (client::classify_open_failure(error)) {
        case client::OpenFailure::target_refused:
            return socks5_reply::connection_refused;
        case client::OpenFailure::target_network_unreachable:
            return socks5_reply::network_unreachable;
        case client::OpenFailure::target_timeout:
        case client::OpenFailure::target_unreachable:
            return socks5_reply::host_unreachable;
        default:
            return socks5_reply::general_failure;
    }
}

}  // namespace anytls::inbound
