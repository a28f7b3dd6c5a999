#!/usr/bin/env bash
# spin-cloud boot deadline, run once by spin-cloud-boot-deadline.timer well after boot: when the
# node has still not converged (spin-cloud-bootstrap.service, which systemd retries forever, is
# not active), a client asks its Auto Scaling Group to replace it (`aws autoscaling
# set-instance-health --health-status Unhealthy`; the ASG then terminates and relaunches it). A
# server is not in a group: it only logs, and systemd keeps retrying its bootstrap.
#
# Usage: boot-deadline.sh <node env file>
set -euo pipefail

readonly env_file="${1:?usage: boot-deadline.sh <node env file>}"
set -a
# shellcheck source=/dev/null
. "$env_file"
set +a

log() { printf 'boot-deadline: %s\n' "$*" >&2; }

if systemctl is-active --quiet "${BOOTSTRAP_UNIT:-spin-cloud-bootstrap.service}"; then
  log "node converged"
  exit 0
fi
if [[ "$SPIN_CLOUD_ROLE" != client ]]; then
  log "server has not converged yet; systemd keeps retrying its bootstrap"
  exit 0
fi
# IMDSv2: a session token first (the instances require it), then the instance id.
imds_token="$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "${IMDS_URL:-http://169.254.169.254}/latest/api/token")"
instance_id="$(curl -fsS -H "X-aws-ec2-metadata-token: ${imds_token}" "${IMDS_URL:-http://169.254.169.254}/latest/meta-data/instance-id")"
[[ "$instance_id" =~ ^i-[0-9a-f]+$ ]] || { log "unexpected instance id '${instance_id}'"; exit 1; }
log "client ${instance_id} has not converged: marking it Unhealthy so its Auto Scaling Group replaces it"
aws autoscaling set-instance-health --region "$AWS_REGION" --instance-id "$instance_id" \
  --health-status Unhealthy --no-should-respect-grace-period
