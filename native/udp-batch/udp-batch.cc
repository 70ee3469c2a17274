// udp-batch: UDP sockets for the media relay that receive in batches (Linux recvmmsg over one epoll set) and
// hand JavaScript one call per batch, and that send from a shared queue in one call into C++ per batch.
//
// Why: under `perf`, Node's dgram spends most of the relay's CPU per packet outside JavaScript: a RemoteInfo
// object built from C++ and one call into JavaScript per datagram, a SendWrap per send, and a 64 KiB receive
// buffer allocated and freed per datagram (docs/performance.md, "CPU per packet"). Here a wake-up of the event
// loop reads every ready socket into one preallocated slab and calls JavaScript once; sends queued while that
// call runs go out when it returns.
//
// Interface (N-API, ABI-stable across Node.js versions; libuv's uv_poll for the event loop):
//   init(onBatch) -> { recv: ArrayBuffer, recvMeta: ArrayBuffer, send: ArrayBuffer, sendMeta: ArrayBuffer,
//                      slot, maxBatch, metaInts }
//   open(host, port) -> fd (>= 0) or -errno
//   close(fd)
//   sendTo(fd, buffer, port, host) -> bytes sent or -errno
//   flush(count) -> packets sent (the queue's first `count` entries)
//   ntop6(metaIndex) -> the IPv6 source address of a received slot, as text
//   pton6(text) -> the 16 bytes of an IPv6 address (an ArrayBuffer), or undefined when it is not one (a zone
//                  index, a name): what a queued IPv6 send carries in its meta ints 5..8
//   openShared(host, port) -> fd or -errno: bound, but inherited by child processes (no close-on-exec) and not
//                               read here: the SIP workers' primary opens it, each worker adopts it
//   adopt(fd) -> 0 or -errno: reads an inherited socket here too; EPOLLEXCLUSIVE wakes one process per datagram
//   localPort(fd) -> the port the socket is bound to (after binding port 0)
//   setReceiveBuffer(fd, bytes) -> 0 or -errno (SO_RCVBUF); receiveBuffer(fd) -> what the kernel reports
//   stampReceipts(fd) -> 0 or -errno: the kernel stamps each datagram's arrival (SO_TIMESTAMPNS)
//   realtimeMs() -> CLOCK_REALTIME in ms, the clock of those stamps
// Received slot i: bytes at recv[i * slot], meta ints at recvMeta[i * metaInts]:
//   [fd, length, port, family (4|6), ipv4 (network order as read), v6 words 0..3]; recvStamps[i] (a double):
//   when the kernel received it, ms of CLOCK_REALTIME, on a socket that asked (stampReceipts), else 0.
// Queued send i: bytes at send[i * slot], meta ints at sendMeta[i * metaInts]: [fd, length, port, 4, ipv4] or
//   [fd, length, port, 6, 0, the IPv6 address's 16 bytes as pton6 gave them].
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

namespace {

// A slot holds the largest UDP payload (65,507 bytes over IPv4): no datagram is cut. Only the bytes received
// are written, so the slabs' untouched pages cost no memory.
constexpr int kSlot = 65536;
constexpr int kMaxBatch = 64;
constexpr int kMetaInts = 9;

struct State {
  int epfd = -1;
  uv_poll_t poll;
  bool polling = false;
  napi_env env = nullptr;
  napi_ref onBatch = nullptr;
  napi_async_context context = nullptr;
  napi_ref buffers[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  uint8_t* recv = nullptr;
  int32_t* recvMeta = nullptr;
  double* recvStamps = nullptr;
  uint8_t* send = nullptr;
  int32_t* sendMeta = nullptr;
  sockaddr_storage from[kMaxBatch];
  iovec iov[kMaxBatch];
  mmsghdr msgs[kMaxBatch];
  // Room for one SCM_TIMESTAMPNS per datagram; the kernel writes it only on sockets with SO_TIMESTAMPNS.
  alignas(cmsghdr) uint8_t control[kMaxBatch][CMSG_SPACE(sizeof(timespec))];
  double truncated = 0;
  double sendErrors = 0;
};

State state;

napi_value Undefined(napi_env env) {
  napi_value value;
  napi_get_undefined(env, &value);
  return value;
}

napi_value Number(napi_env env, double n) {
  napi_value value;
  napi_create_double(env, n, &value);
  return value;
}

bool Throw(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return false;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "VOXGATE_UDP_BATCH", what);
  return true;
}

// Calls JavaScript with the number of slots filled; Node runs nextTicks and microtasks after it as after any
// I/O callback (napi_make_callback).
void Deliver(int count) {
  napi_env env = state.env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn;
  napi_get_reference_value(env, state.onBatch, &fn);
  // napi_make_callback wants an object as `this`.
  napi_value recv;
  napi_get_global(env, &recv);
  napi_value argv[1] = {Number(env, count)};
  napi_value result;
  napi_status status = napi_make_callback(env, state.context, recv, fn, 1, argv, &result);
  if (status == napi_pending_exception) {
    // An exception the batch handler let escape is the process's, as from any I/O callback.
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

double Milliseconds(const timespec& t) {
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// The kernel's stamp of a received datagram's arrival (ms of CLOCK_REALTIME), or 0 when it carries none.
double ReceiptStamp(msghdr& h) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec t;
    memcpy(&t, CMSG_DATA(c), sizeof(t));
    return Milliseconds(t);
  }
  return 0;
}

int ReadInto(int fd, int at) {
  int room = kMaxBatch - at;
  for (int i = 0; i < room; i++) {
    mmsghdr& m = state.msgs[at + i];
    memset(&m, 0, sizeof(m));
    state.iov[at + i].iov_base = state.recv + (at + i) * kSlot;
    state.iov[at + i].iov_len = kSlot;
    m.msg_hdr.msg_iov = &state.iov[at + i];
    m.msg_hdr.msg_iovlen = 1;
    m.msg_hdr.msg_name = &state.from[at + i];
    m.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    m.msg_hdr.msg_control = state.control[at + i];
    m.msg_hdr.msg_controllen = sizeof(state.control[at + i]);
  }
  int n = recvmmsg(fd, &state.msgs[at], room, MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  int kept = 0;
  for (int i = 0; i < n; i++) {
    mmsghdr& m = state.msgs[at + i];
    if (m.msg_hdr.msg_flags & MSG_TRUNC) {
      state.truncated++;
      continue;
    }
    int slot = at + kept;
    if (slot != at + i) {
      memmove(state.recv + slot * kSlot, state.recv + (at + i) * kSlot, m.msg_len);
      state.from[slot] = state.from[at + i];
    }
    state.recvStamps[slot] = ReceiptStamp(m.msg_hdr);
    int32_t* meta = state.recvMeta + slot * kMetaInts;
    meta[0] = fd;
    meta[1] = static_cast<int32_t>(m.msg_len);
    const sockaddr* sa = reinterpret_cast<const sockaddr*>(&state.from[slot]);
    if (sa->sa_family == AF_INET6) {
      const sockaddr_in6* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
      meta[2] = ntohs(in6->sin6_port);
      meta[3] = 6;
      meta[4] = 0;
      memcpy(&meta[5], &in6->sin6_addr, 16);
    } else {
      const sockaddr_in* in = reinterpret_cast<const sockaddr_in*>(sa);
      meta[2] = ntohs(in->sin_port);
      meta[3] = 4;
      meta[4] = static_cast<int32_t>(ntohl(in->sin_addr.s_addr));
    }
    kept++;
  }
  return kept;
}

void OnReadable(uv_poll_t*, int status, int) {
  if (status < 0) return;
  epoll_event events[kMaxBatch];
  int ready = epoll_wait(state.epfd, events, kMaxBatch, 0);
  int count = 0;
  for (int e = 0; e < ready; e++) {
    // One recvmmsg per ready socket and wake-up: a socket with more left is ready again on the next one
    // (level-triggered), so one busy party cannot starve the others or the event loop.
    count += ReadInto(events[e].data.fd, count);
    if (count == kMaxBatch) {
      Deliver(count);
      count = 0;
    }
  }
  if (count > 0) Deliver(count);
}

bool Address(int family, const char* host, int port, sockaddr_storage* out, socklen_t* len) {
  memset(out, 0, sizeof(*out));
  if (family == 6) {
    sockaddr_in6* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) return false;
    *len = sizeof(sockaddr_in6);
    return true;
  }
  sockaddr_in* in = reinterpret_cast<sockaddr_in*>(out);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &in->sin_addr) != 1) return false;
  *len = sizeof(sockaddr_in);
  return true;
}

bool GetString(napi_env env, napi_value value, char* out, size_t size) {
  size_t written = 0;
  return napi_get_value_string_utf8(env, value, out, size, &written) == napi_ok;
}

napi_value Init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (state.env != nullptr) {
    napi_throw_error(env, "VOXGATE_UDP_BATCH", "udp-batch is already initialised in this thread");
    return nullptr;
  }
  state.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (state.epfd < 0) {
    napi_throw_error(env, "VOXGATE_UDP_BATCH", strerror(errno));
    return nullptr;
  }
  state.env = env;
  if (Throw(env, napi_create_reference(env, argv[0], 1, &state.onBatch), "onBatch")) return nullptr;
  napi_value name;
  napi_create_string_utf8(env, "voxgate.udpBatch", NAPI_AUTO_LENGTH, &name);
  if (Throw(env, napi_async_init(env, nullptr, name, &state.context), "async context")) return nullptr;

  napi_value result;
  napi_create_object(env, &result);
  const char* names[5] = {"recv", "recvMeta", "send", "sendMeta", "recvStamps"};
  size_t sizes[5] = {kSlot * kMaxBatch, kMetaInts * 4 * kMaxBatch, kSlot * kMaxBatch, kMetaInts * 4 * kMaxBatch,
                     sizeof(double) * kMaxBatch};
  void* data[5];
  for (int i = 0; i < 5; i++) {
    napi_value buffer;
    if (Throw(env, napi_create_arraybuffer(env, sizes[i], &data[i], &buffer), names[i])) return nullptr;
    napi_create_reference(env, buffer, 1, &state.buffers[i]);
    napi_set_named_property(env, result, names[i], buffer);
  }
  state.recv = static_cast<uint8_t*>(data[0]);
  state.recvMeta = static_cast<int32_t*>(data[1]);
  state.send = static_cast<uint8_t*>(data[2]);
  state.sendMeta = static_cast<int32_t*>(data[3]);
  state.recvStamps = static_cast<double*>(data[4]);
  napi_set_named_property(env, result, "slot", Number(env, kSlot));
  napi_set_named_property(env, result, "maxBatch", Number(env, kMaxBatch));
  napi_set_named_property(env, result, "metaInts", Number(env, kMetaInts));

  uv_loop_s* loop = nullptr;
  if (Throw(env, napi_get_uv_event_loop(env, &loop), "event loop")) return nullptr;
  uv_poll_init(loop, &state.poll, state.epfd);
  // The poll keeps the process alive only while a socket is open (see Open and Close).
  uv_poll_start(&state.poll, UV_READABLE, OnReadable);
  uv_unref(reinterpret_cast<uv_handle_t*>(&state.poll));
  state.polling = true;
  return result;
}

int openSockets = 0;

// Creates and binds a non-blocking UDP socket; -errno on failure.
int BindSocket(const char* host, int port, bool inheritable) {
  int family = strchr(host, ':') ? 6 : 4;
  sockaddr_storage addr;
  socklen_t len;
  if (!Address(family, host, port, &addr, &len)) return -EINVAL;
  int flags = SOCK_DGRAM | SOCK_NONBLOCK | (inheritable ? 0 : SOCK_CLOEXEC);
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, flags, 0);
  if (fd < 0) return -errno;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

int Watch(int fd, uint32_t extra) {
  epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN | extra;
  ev.data.fd = fd;
  if (epoll_ctl(state.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return -errno;
  if (openSockets++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&state.poll));
  return 0;
}

bool HostPort(napi_env env, napi_callback_info info, char* host, size_t size, int32_t* port) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 2 || !GetString(env, argv[0], host, size) || napi_get_value_int32(env, argv[1], port) != napi_ok) {
    napi_throw_type_error(env, "VOXGATE_UDP_BATCH", "(host: string, port: number)");
    return false;
  }
  return true;
}

// The first integer argument (and, with `second`, the second one into it), or -1 when an argument is missing or
// not a number.
int32_t IntArgument(napi_env env, napi_callback_info info, int32_t* second = nullptr) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t first = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &first) != napi_ok) return -1;
  if (second != nullptr && (argc < 2 || napi_get_value_int32(env, argv[1], second) != napi_ok)) return -1;
  return first;
}

napi_value OpenShared(napi_env env, napi_callback_info info) {
  char host[64];
  int32_t port = 0;
  if (!HostPort(env, info, host, sizeof(host), &port)) return nullptr;
  return Number(env, BindSocket(host, port, true));
}

napi_value Adopt(napi_env env, napi_callback_info info) {
  int32_t fd = IntArgument(env, info);
  if (fd < 0) return Number(env, -EBADF);
  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return Number(env, -errno);
  if (type != SOCK_DGRAM) return Number(env, -ENOTSOCK);
  // Not handed on again to this process's own children.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return Number(env, Watch(fd, EPOLLEXCLUSIVE));
}

napi_value Open(napi_env env, napi_callback_info info) {
  char host[64];
  int32_t port = 0;
  if (!HostPort(env, info, host, sizeof(host), &port)) return nullptr;
  int fd = BindSocket(host, port, false);
  if (fd < 0) return Number(env, fd);
  int watched = Watch(fd, 0);
  if (watched < 0) {
    ::close(fd);
    return Number(env, watched);
  }
  return Number(env, fd);
}

napi_value Close(napi_env env, napi_callback_info info) {
  int32_t fd = IntArgument(env, info);
  if (fd >= 0) {
    epoll_ctl(state.epfd, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    if (--openSockets == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&state.poll));
  }
  return Undefined(env);
}

napi_value SendTo(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1, port = 0;
  void* data = nullptr;
  size_t length = 0;
  char host[64];
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], nullptr, &length, &data, nullptr, nullptr) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || !GetString(env, argv[3], host, sizeof(host))) {
    napi_throw_type_error(env, "VOXGATE_UDP_BATCH", "sendTo(fd, bytes: Uint8Array, port, host)");
    return nullptr;
  }
  sockaddr_storage addr;
  socklen_t len;
  if (!Address(strchr(host, ':') ? 6 : 4, host, port, &addr, &len)) return Number(env, -EINVAL);
  ssize_t sent = sendto(fd, data, length, 0, reinterpret_cast<sockaddr*>(&addr), len);
  if (sent < 0) {
    state.sendErrors++;
    return Number(env, -errno);
  }
  return Number(env, static_cast<double>(sent));
}

napi_value Flush(napi_env env, napi_callback_info info) {
  int32_t count = IntArgument(env, info);
  if (count > kMaxBatch) count = kMaxBatch;
  mmsghdr msgs[kMaxBatch];
  iovec iov[kMaxBatch];
  sockaddr_in6 to[kMaxBatch];  // large enough for either family
  int sent = 0;
  int i = 0;
  while (i < count) {
    // Runs of packets from the same socket go out in one sendmmsg.
    int fd = state.sendMeta[i * kMetaInts];
    int n = 0;
    while (i + n < count && state.sendMeta[(i + n) * kMetaInts] == fd) {
      int k = i + n;
      const int32_t* meta = state.sendMeta + k * kMetaInts;
      memset(&msgs[n], 0, sizeof(mmsghdr));
      memset(&to[n], 0, sizeof(sockaddr_in6));
      socklen_t toLength;
      if (meta[3] == 6) {
        to[n].sin6_family = AF_INET6;
        to[n].sin6_port = htons(static_cast<uint16_t>(meta[2]));
        memcpy(&to[n].sin6_addr, &meta[5], sizeof(in6_addr));
        toLength = sizeof(sockaddr_in6);
      } else {
        sockaddr_in* in = reinterpret_cast<sockaddr_in*>(&to[n]);
        in->sin_family = AF_INET;
        in->sin_port = htons(static_cast<uint16_t>(meta[2]));
        in->sin_addr.s_addr = htonl(static_cast<uint32_t>(meta[4]));
        toLength = sizeof(sockaddr_in);
      }
      iov[n].iov_base = state.send + k * kSlot;
      iov[n].iov_len = static_cast<size_t>(meta[1]);
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      msgs[n].msg_hdr.msg_name = &to[n];
      msgs[n].msg_hdr.msg_namelen = toLength;
      n++;
    }
    int done = 0;
    while (done < n) {
      int r = sendmmsg(fd, &msgs[done], n - done, MSG_DONTWAIT);
      if (r <= 0) {
        // A packet the kernel refuses (a full buffer, an unreachable port reported back) is lost, as a UDP
        // packet on the wire may be; the rest of the run still goes.
        state.sendErrors++;
        done++;
        continue;
      }
      done += r;
      sent += r;
    }
    i += n;
  }
  return Number(env, sent);
}

napi_value Ntop6(napi_env env, napi_callback_info info) {
  int32_t index = IntArgument(env, info);
  if (index < 0 || index >= kMaxBatch) return Undefined(env);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &state.recvMeta[index * kMetaInts + 5], text, sizeof(text));
  napi_value value;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

napi_value Pton6(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char text[INET6_ADDRSTRLEN + 1];
  in6_addr address;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      !GetString(env, argv[0], text, sizeof(text)) || inet_pton(AF_INET6, text, &address) != 1)
    return Undefined(env);
  void* data = nullptr;
  napi_value buffer;
  if (napi_create_arraybuffer(env, sizeof(address), &data, &buffer) != napi_ok) return Undefined(env);
  memcpy(data, &address, sizeof(address));
  return buffer;
}

napi_value LocalPort(napi_env env, napi_callback_info info) {
  int32_t fd = IntArgument(env, info);
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  if (fd < 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return Number(env, -errno);
  const sockaddr* sa = reinterpret_cast<const sockaddr*>(&addr);
  uint16_t port = sa->sa_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port
                                            : reinterpret_cast<const sockaddr_in*>(sa)->sin_port;
  return Number(env, ntohs(port));
}

napi_value SetReceiveBuffer(napi_env env, napi_callback_info info) {
  int32_t bytes = 0;
  int32_t fd = IntArgument(env, info, &bytes);
  if (fd < 0) return Number(env, -EBADF);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) < 0) return Number(env, -errno);
  return Number(env, 0);
}

napi_value ReceiveBuffer(napi_env env, napi_callback_info info) {
  int32_t fd = IntArgument(env, info);
  int bytes = 0;
  socklen_t len = sizeof(bytes);
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, &len) < 0) return Number(env, -errno);
  return Number(env, bytes);
}

napi_value StampReceipts(napi_env env, napi_callback_info info) {
  int32_t fd = IntArgument(env, info);
  int on = 1;
  if (fd < 0) return Number(env, -EBADF);
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0) return Number(env, -errno);
  return Number(env, 0);
}

napi_value RealtimeMs(napi_env env, napi_callback_info) {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return Number(env, Milliseconds(t));
}

napi_value Stats(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "truncated", Number(env, state.truncated));
  napi_set_named_property(env, result, "sendErrors", Number(env, state.sendErrors));
  napi_set_named_property(env, result, "open", Number(env, openSockets));
  return result;
}

napi_value Module(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", nullptr, Init, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sendTo", nullptr, SendTo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"flush", nullptr, Flush, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pton6", nullptr, Pton6, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"ntop6", nullptr, Ntop6, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"openShared", nullptr, OpenShared, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adopt", nullptr, Adopt, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"localPort", nullptr, LocalPort, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setReceiveBuffer", nullptr, SetReceiveBuffer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"receiveBuffer", nullptr, ReceiveBuffer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stampReceipts", nullptr, StampReceipts, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"realtimeMs", nullptr, RealtimeMs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stats", nullptr, Stats, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(udp_batch, Module)
