/**
 * Where things live on a node. Renderers, the boot scripts (through the node env file) and the
 * tests all read these paths from here, so a path is written once.
 *
 * Our agents read their configuration from directories of our own, not from the packages'
 * `/etc/consul.d` and `/etc/nomad.d`: the packages ship a default config there (a dev-mode
 * `nomad.hcl`) that would be merged into ours.
 */
export const NODE_LAYOUT = {
    /** Root of everything spin-cloud writes on a node. */
    root: "/etc/spin-cloud",
    /** Shell env file with the node's non-secret parameters, sourced by the scripts. */
    envFile: "/etc/spin-cloud/node.env",
    /** Directory of the install and boot scripts. */
    scriptDir: "/opt/spin-cloud/bin",
    consul: {
        configDir: "/etc/spin-cloud/consul.d",
        /** Non-secret agent config, written by cloud-init. */
        configFile: "/etc/spin-cloud/consul.d/agent.json",
        /** Secret fragment (gossip key, tokens), written at boot from SSM, mode 0640. */
        secretsFile: "/etc/spin-cloud/consul.d/secrets.json",
        dataDir: "/opt/consul/data",
        /** ACL policy documents (JSON rules) the first server registers. */
        policyDir: "/etc/spin-cloud/consul-policies",
        user: "consul",
    },
    nomad: {
        configDir: "/etc/spin-cloud/nomad.d",
        configFile: "/etc/spin-cloud/nomad.d/agent.json",
        secretsFile: "/etc/spin-cloud/nomad.d/secrets.json",
        dataDir: "/opt/nomad/data",
        user: "root",
    },
    tls: {
        dir: "/etc/spin-cloud/tls",
        caFile: "/etc/spin-cloud/tls/ca.pem",
        certFile: "/etc/spin-cloud/tls/agent.pem",
        keyFile: "/etc/spin-cloud/tls/agent-key.pem",
    },
    spin: {
        binary: "/usr/local/bin/spin",
    },
    resolvedDropIn: "/etc/systemd/resolved.conf.d/consul.conf",
    systemdDir: "/etc/systemd/system",
} as const;
