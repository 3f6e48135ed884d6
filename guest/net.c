/* The guest's network: loopback, and with QEMU's user network (slirp) the
 * addresses slirp expects (it has no DHCP client to talk to here). slirp
 * runs in QEMU's own network namespace on the host, so "the host" it
 * offers at 10.0.2.2 is that namespace, not the machine's loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"

static void set_address(struct sockaddr *sa, const char *text)
{
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    memset(in, 0, sizeof *in);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, text, &in->sin_addr);
}

static int bring_up(int sock, const char *name)
{
    struct ifreq req = {0};
    snprintf(req.ifr_name, sizeof req.ifr_name, "%s", name);
    if (ioctl(sock, SIOCGIFFLAGS, &req) < 0)
        return -1;
    req.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(sock, SIOCSIFFLAGS, &req);
}

static int configure(int sock, const char *name)
{
    struct ifreq req = {0};
    snprintf(req.ifr_name, sizeof req.ifr_name, "%s", name);
    set_address(&req.ifr_addr, "10.0.2.15");
    if (ioctl(sock, SIOCSIFADDR, &req) < 0)
        return -1;
    set_address(&req.ifr_netmask, "255.255.255.0");
    if (ioctl(sock, SIOCSIFNETMASK, &req) < 0 || bring_up(sock, name) < 0)
        return -1;
    struct rtentry route = {0};
    set_address(&route.rt_dst, "0.0.0.0");
    set_address(&route.rt_genmask, "0.0.0.0");
    set_address(&route.rt_gateway, "10.0.2.2");
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    return ioctl(sock, SIOCADDRT, &route);
}

/* The kernel starts sending on an interface once its link watch has run
 * (until then its queue drops everything), up to a second after it came
 * up: a session's first connection must not be lost to that. */
static void wait_until_up(const char *name)
{
    char path[128], state[16] = "";
    snprintf(path, sizeof path, "/sys/class/net/%s/operstate", name);
    for (int tries = 0; tries < 40; tries++) {
        FILE *file = fopen(path, "re");
        if (file) {
            if (!fgets(state, sizeof state, file))
                state[0] = '\0';
            fclose(file);
        }
        if (strncmp(state, "up", 2) == 0)
            return;
        usleep(50 * 1000);
    }
    agent_log("network: %s is still %s", name, state);
}

int setup_network(bool with_eth0, char *err, size_t err_len)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || bring_up(sock, "lo") < 0) {
        snprintf(err, err_len, "network: loopback: %s", strerror(errno));
        if (sock >= 0)
            close(sock);
        return -1;
    }
    int rc = 0;
    if (with_eth0) {
        struct if_nameindex *names = if_nameindex();
        const char *found = NULL;
        for (struct if_nameindex *n = names; n && n->if_index; n++)
            if (strcmp(n->if_name, "lo") != 0) {
                found = n->if_name;
                break;
            }
        if (!found) {
            snprintf(err, err_len, "network: the VM has no network interface");
            rc = -1;
        } else if (configure(sock, found) < 0) {
            snprintf(err, err_len, "network: configuring %s: %s", found, strerror(errno));
            rc = -1;
        } else {
            wait_until_up(found);
        }
        if (names)
            if_freenameindex(names);
    }
    close(sock);
    return rc;
}
