#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <microhttpd.h>

/* MHD_start_daemon is variadic, which Swift cannot call: this fixes the option list
 * opg uses. Binds `host:port` (IPv4), epoll with an internal pool of `io_threads` that
 * only move bytes: handlers run elsewhere and answer through suspend/resume, so a slow
 * handler never stalls the connections of the I/O thread it was read on.
 * `per_ip_limit` 0 means no per-IP cap. `memory_limit` is each connection's pool (it
 * holds the request line and headers; bodies are handed to us in chunks). `notify`
 * sees every connection open and close (the whole-request deadline is kept there).
 * Upgrades (WebSocket) are allowed: the socket is then handed to the application. */
static inline struct MHD_Daemon *opg_mhd_start(const char *host, uint16_t port, unsigned int io_threads,
                                               unsigned int connection_limit, unsigned int per_ip_limit,
                                               unsigned int timeout_seconds, size_t memory_limit,
                                               MHD_AccessHandlerCallback handler, void *handler_cls,
                                               MHD_RequestCompletedCallback completed, void *completed_cls,
                                               MHD_NotifyConnectionCallback notify, void *notify_cls) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return NULL;
    return MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE, port, NULL, NULL,
                            handler, handler_cls,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_THREAD_POOL_SIZE, io_threads,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_limit,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout_seconds,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory_limit,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_NOTIFY_CONNECTION, notify, notify_cls,
                            MHD_OPTION_END);
}

/* The port the daemon is bound to (useful after binding port 0). */
static inline uint16_t opg_mhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

/* The connection's socket, or -1. */
static inline int opg_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

/* The client's IPv4 address as a host-order integer (0 when unknown). */
static inline uint32_t opg_mhd_connection_ipv4(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr || info->client_addr->sa_family != AF_INET) return 0;
    return ntohl(((const struct sockaddr_in *)info->client_addr)->sin_addr.s_addr);
}

/* 1 when the peer has closed its side of the TCP connection (state CLOSE-WAIT): a
 * request still incomplete then can never complete. MHD 0.9.75 sometimes misses the
 * end of stream of a connection whose partial request and FIN arrive together. */
static inline int opg_socket_peer_closed(int fd) {
    struct tcp_info info;
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return 0;
    return info.tcpi_state == TCP_CLOSE_WAIT;
}

/* Sets the calling thread's nice value (Linux threads have their own); 0 on success. */
static inline int opg_set_thread_niceness(int niceness) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), niceness);
}

/* Closes an upgraded (WebSocket) connection's socket: MHD_upgrade_action is variadic. */
static inline int opg_mhd_upgrade_close(struct MHD_UpgradeResponseHandle *urh) {
    return MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE) == MHD_YES;
}
