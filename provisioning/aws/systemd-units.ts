/**
 * consul.service and nomad.service, built as data and serialized with `renderIni`.
 *
 * They are written to NODE_LAYOUT.systemdDir under the packages' own unit names, so they replace
 * the units the HashiCorp packages ship in /usr/lib/systemd/system (a unit in /etc/systemd/system
 * takes precedence over one of the same name in /usr/lib), and point the agents at our config
 * directories instead of /etc/consul.d and /etc/nomad.d. The directives follow the units HashiCorp
 * ships in its packages (hashicorp/consul and hashicorp/nomad,
 * .release/linux/package/usr/lib/systemd/system/*.service):
 * - Consul: Type=notify (the agent reports readiness over sd_notify), User/Group=consul,
 *   ExecReload sends SIGHUP, KillMode=process, KillSignal=SIGTERM, Restart=on-failure,
 *   LimitNOFILE=65536.
 * - Nomad: KillMode=process (a client must not kill the task processes it supervises when the
 *   agent stops), KillSignal=SIGINT (graceful leave), LimitNOFILE=65536, LimitNPROC/TasksMax
 *   =infinity, Restart=on-failure with RestartSec=2, OOMScoreAdjust=-1000; Wants/After
 *   consul.service as the shipped unit suggests when Nomad runs with Consul.
 */
import { IniDocument, renderIni } from "./ini";
import { NODE_LAYOUT } from "../agents/node-layout";
import { IMDS_GUARD_UNIT_NAME } from "./imds-guard";

/** Where the HashiCorp Debian packages install the binaries (their shipped units' ExecStart). */
export const CONSUL_BINARY = "/usr/bin/consul";
export const NOMAD_BINARY = "/usr/bin/nomad";

export const CONSUL_UNIT_NAME = "consul.service";
export const NOMAD_UNIT_NAME = "nomad.service";

export interface SystemdUnit {
    readonly name: string;
    /** Absolute path of the unit file on the node. */
    readonly path: string;
    readonly doc: IniDocument;
}

const NETWORK_ONLINE = "network-online.target";
const RELOAD = "/bin/kill -HUP $MAINPID";

export function consulUnit(): SystemdUnit {
    return {
        name: CONSUL_UNIT_NAME,
        path: `${NODE_LAYOUT.systemdDir}/${CONSUL_UNIT_NAME}`,
        doc: {
            Unit: {
                Description: "HashiCorp Consul agent (spin-cloud)",
                Documentation: "https://developer.hashicorp.com/consul/docs",
                Wants: NETWORK_ONLINE,
                After: NETWORK_ONLINE,
            },
            Service: {
                Type: "notify",
                User: NODE_LAYOUT.consul.user,
                Group: NODE_LAYOUT.consul.user,
                ExecStart: `${CONSUL_BINARY} agent -config-dir=${NODE_LAYOUT.consul.configDir}`,
                ExecReload: RELOAD,
                KillMode: "process",
                KillSignal: "SIGTERM",
                Restart: "on-failure",
                // A fresh client's agent notifies readiness only once the servers answer
                // (auto_encrypt); the default 90 s start timeout would kill and restart it in a loop.
                TimeoutStartSec: "infinity",
                LimitNOFILE: "65536",
            },
            Install: {
                WantedBy: "multi-user.target",
            },
        },
    };
}

export function nomadUnit(): SystemdUnit {
    return {
        name: NOMAD_UNIT_NAME,
        path: `${NODE_LAYOUT.systemdDir}/${NOMAD_UNIT_NAME}`,
        doc: {
            Unit: {
                Description: "HashiCorp Nomad agent (spin-cloud)",
                Documentation: "https://developer.hashicorp.com/nomad/docs",
                Wants: [NETWORK_ONLINE, CONSUL_UNIT_NAME],
                // No task before the IMDS guard is loaded, and none if it failed (imds-guard.ts).
                Requires: IMDS_GUARD_UNIT_NAME,
                After: [NETWORK_ONLINE, CONSUL_UNIT_NAME, IMDS_GUARD_UNIT_NAME],
            },
            Service: {
                User: NODE_LAYOUT.nomad.user,
                ExecStart: `${NOMAD_BINARY} agent -config=${NODE_LAYOUT.nomad.configDir}`,
                ExecReload: RELOAD,
                KillMode: "process",
                KillSignal: "SIGINT",
                // Outlasts the client drain (nomad-config.ts CLIENT_DRAIN_DEADLINE, 2 min).
                TimeoutStopSec: "180",
                Restart: "on-failure",
                RestartSec: "2",
                LimitNOFILE: "65536",
                LimitNPROC: "infinity",
                TasksMax: "infinity",
                OOMScoreAdjust: "-1000",
            },
            Install: {
                WantedBy: "multi-user.target",
            },
        },
    };
}

export const BOOTSTRAP_UNIT_NAME = "spin-cloud-bootstrap.service";
export const BOOT_DEADLINE_UNIT_NAME = "spin-cloud-boot-deadline.service";
export const BOOT_DEADLINE_TIMER_NAME = "spin-cloud-boot-deadline.timer";

/** How long after boot a client that has not converged asks its ASG to replace it. */
export const BOOT_DEADLINE = "45min";

/**
 * The node's boot as a unit systemd retries until it succeeds: a fresh client's Consul agent
 * (auto_encrypt) serves no API until the servers have made its token, which can take longer than
 * any one run of bootstrap.sh waits. StartLimitIntervalSec=0 turns off the start rate limit, so
 * systemd never gives up (systemd.unit(5)); Restart=on-failure with RestartSec spaces the runs
 * (systemd.service(5): for Type=oneshot, Restart= is allowed with on-failure). RemainAfterExit
 * keeps the unit active after success: the deadline checks that. Enabled, so every boot
 * converges again (bootstrap.sh is idempotent).
 */
export function bootstrapUnit(scriptPath: string, envFile: string): SystemdUnit {
    return {
        name: BOOTSTRAP_UNIT_NAME,
        path: `${NODE_LAYOUT.systemdDir}/${BOOTSTRAP_UNIT_NAME}`,
        doc: {
            Unit: {
                Description: "spin-cloud node bootstrap (secrets, TLS, agents, ACLs)",
                Wants: NETWORK_ONLINE,
                After: NETWORK_ONLINE,
                StartLimitIntervalSec: "0",
            },
            Service: {
                Type: "oneshot",
                RemainAfterExit: "yes",
                ExecStart: `${scriptPath} ${envFile}`,
                Restart: "on-failure",
                RestartSec: "30",
                // Each run is bounded by bootstrap.sh's own waits (at most ~35 minutes).
                TimeoutStartSec: "60min",
            },
            Install: { WantedBy: "multi-user.target" },
        },
    };
}

/** The deadline: once, BOOT_DEADLINE after boot, boot-deadline.sh (see there). */
export function bootDeadlineUnits(scriptPath: string, envFile: string): readonly SystemdUnit[] {
    return [
        {
            name: BOOT_DEADLINE_UNIT_NAME,
            path: `${NODE_LAYOUT.systemdDir}/${BOOT_DEADLINE_UNIT_NAME}`,
            doc: {
                Unit: { Description: "spin-cloud: replace this node if it has not converged" },
                Service: { Type: "oneshot", ExecStart: `${scriptPath} ${envFile}` },
            },
        },
        {
            name: BOOT_DEADLINE_TIMER_NAME,
            path: `${NODE_LAYOUT.systemdDir}/${BOOT_DEADLINE_TIMER_NAME}`,
            doc: {
                Unit: { Description: "spin-cloud boot deadline" },
                Timer: { OnBootSec: BOOT_DEADLINE, Unit: BOOT_DEADLINE_UNIT_NAME },
                Install: { WantedBy: "timers.target" },
            },
        },
    ];
}

export const TLS_RENEW_UNIT_NAME = "spin-cloud-tls-renew.service";
export const TLS_RENEW_TIMER_NAME = "spin-cloud-tls-renew.timer";

/**
 * Daily TLS renewal (renew-tls.sh): fetch the CA, certificate and key from SSM, replace and reload
 * when they changed. systemd.timer(5): OnCalendar=daily; RandomizedDelaySec spreads the servers'
 * reloads over hours instead of all at midnight; Persistent=yes runs a missed run at boot;
 * OnBootSec also checks soon after every boot. A day between runs is far inside the 30 days
 * `pulumi up` renews certificates ahead of expiry (components/aws/cluster-secrets.ts).
 */
export function tlsRenewUnits(scriptPath: string, envFile: string): readonly SystemdUnit[] {
    return [
        {
            name: TLS_RENEW_UNIT_NAME,
            path: `${NODE_LAYOUT.systemdDir}/${TLS_RENEW_UNIT_NAME}`,
            doc: {
                Unit: {
                    Description: "spin-cloud: pick up renewed TLS material from SSM and reload the agents",
                    Wants: NETWORK_ONLINE,
                    After: [NETWORK_ONLINE, BOOTSTRAP_UNIT_NAME],
                },
                Service: { Type: "oneshot", ExecStart: `${scriptPath} ${envFile}`, TimeoutStartSec: "10min" },
            },
        },
        {
            name: TLS_RENEW_TIMER_NAME,
            path: `${NODE_LAYOUT.systemdDir}/${TLS_RENEW_TIMER_NAME}`,
            doc: {
                Unit: { Description: "spin-cloud daily TLS renewal" },
                Timer: { OnCalendar: "daily", RandomizedDelaySec: "4h", Persistent: "yes", OnBootSec: "1h", Unit: TLS_RENEW_UNIT_NAME },
                Install: { WantedBy: "timers.target" },
            },
        },
    ];
}

/** Both agent units, Consul first. */
export function systemdUnits(): readonly SystemdUnit[] {
    return [consulUnit(), nomadUnit()];
}

export function renderUnit(unit: SystemdUnit): string {
    return renderIni(unit.doc);
}
