//! Admin: a license's seat policy — named groups of users, e-mail domains, machines and hosts,
//! and the rules on them (`reserve`, `max`, `include`, `exclude`; ADR 0026). Read it whole,
//! replace it whole. Also the leasing strategy's wire form, which the license routes carry.

use std::sync::Arc;

use license_core::{
    Error, LeasingStrategy, LicenseChange, LicenseId, Member, PolicyRule, SeatGroup, SeatPolicy,
    Target,
};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for a license's seat policy.
#[derive(Debug)]
pub struct PoliciesApi;

/// Who a seat is for.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum LeasingStrategyDto {
    /// One seat per machine (`hardware_id`): the default.
    PerMachine,
    /// One seat per person (`user_email`, or the signed-in user), from any number of machines.
    PerUser,
    /// One seat per process (`hardware_id` and `process_id`).
    PerProcess,
}

impl From<LeasingStrategy> for LeasingStrategyDto {
    fn from(strategy: LeasingStrategy) -> Self {
        match strategy {
            LeasingStrategy::PerMachine => Self::PerMachine,
            LeasingStrategy::PerUser => Self::PerUser,
            LeasingStrategy::PerProcess => Self::PerProcess,
        }
    }
}

impl From<LeasingStrategyDto> for LeasingStrategy {
    fn from(strategy: LeasingStrategyDto) -> Self {
        match strategy {
            LeasingStrategyDto::PerMachine => Self::PerMachine,
            LeasingStrategyDto::PerUser => Self::PerUser,
            LeasingStrategyDto::PerProcess => Self::PerProcess,
        }
    }
}

/// A license's groups and rules. Empty: anyone holding the license key may take any free
/// seat.
#[derive(Object, Debug, Clone, PartialEq, Eq, Default)]
#[oai(deny_unknown_fields)]
pub struct PolicyDto {
    /// Named groups (at most 64), each name once.
    #[oai(default, validator(max_items = 64))]
    pub groups: Vec<GroupDto>,
    /// The rules (at most 64), in any order.
    #[oai(default, validator(max_items = 64))]
    pub rules: Vec<RuleDto>,
}

/// A named set of users, e-mail domains, machines and host names.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(deny_unknown_fields)]
pub struct GroupDto {
    /// 1–64 letters, digits, `-`, `_` or `.`.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: String,
    /// Who belongs (1–1000 members; anyone matching any of them).
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub members: Vec<MemberDto>,
}

/// What a group member names.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum MemberKind {
    /// An e-mail address (`user_email`) or an OIDC subject; case-insensitive.
    User,
    /// Every e-mail address at this domain (`acme.com` matches `a@acme.com`, not
    /// `a@sub.acme.com`).
    Domain,
    /// A machine, by its hardware id (exact).
    HardwareId,
    /// A host, by the `host_name` its client reports; case-insensitive.
    Host,
}

/// One member of a group.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(deny_unknown_fields)]
pub struct MemberDto {
    // What `value` names (plain comment: keeps a bare $ref for generators).
    pub kind: MemberKind,
    /// The user, domain, hardware id or host name (1–254 bytes, no spaces).
    #[oai(validator(min_length = 1, max_length = 254))]
    pub value: String,
}

/// What a `max` rule limits.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum TargetKind {
    /// The members of a group, together.
    Group,
    /// One user (e-mail address or OIDC subject).
    User,
    /// One host (host name or hardware id).
    Host,
}

/// The target of a `max` rule.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(deny_unknown_fields)]
pub struct TargetDto {
    // Group, user or host (plain comment: keeps a bare $ref for generators).
    pub kind: TargetKind,
    /// The group's name, the user or the host (1–254 bytes, no spaces).
    #[oai(validator(min_length = 1, max_length = 254))]
    pub value: String,
}

/// Which rule a [`RuleDto`] is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RuleKind {
    /// `seats` seats are kept for `group`'s members: nobody else gets one of them (the
    /// reserves together at most `seats_total`).
    Reserve,
    /// `target` holds at most `seats` seats at once.
    Max,
    /// Only members of included groups may take a seat (with several, any of them).
    Include,
    /// Members of `group` may not take a seat, even when also included.
    Exclude,
    /// Members of `group` stand ahead of lower levels in the license's queue: a requester's
    /// priority is the highest `level` of its groups, 0 without one.
    Priority,
}

/// One rule of a policy. `reserve` needs `seats` and `group`; `max` needs `seats` and
/// `target`; `include` and `exclude` need `group`; `priority` needs `level` and `group` (else
/// 400 naming `rules`). One flat object
/// rather than a tagged union, so every generated client gets one plain model.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct RuleDto {
    // Which rule (plain comment: keeps a bare $ref for generators).
    pub rule: RuleKind,
    /// How many seats (`reserve`: at least 1; `max`: 0 or more).
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "0"), maximum(value = "1000000"))
    )]
    pub seats: Option<u32>,
    /// The group (`reserve`, `include`, `exclude`).
    #[oai(skip_serializing_if_is_none)]
    pub group: Option<String>,
    // Who a `max` rule limits (plain comment: keeps a bare $ref for generators).
    #[oai(skip_serializing_if_is_none)]
    pub target: Option<TargetDto>,
    /// A `priority` rule's level: 1 to 1000, higher first.
    #[oai(
        skip_serializing_if_is_none,
        validator(minimum(value = "1"), maximum(value = "1000"))
    )]
    pub level: Option<u32>,
}

impl From<SeatPolicy> for PolicyDto {
    fn from(policy: SeatPolicy) -> Self {
        Self {
            groups: policy.groups.into_iter().map(GroupDto::from).collect(),
            rules: policy.rules.into_iter().map(RuleDto::from).collect(),
        }
    }
}

impl TryFrom<PolicyDto> for SeatPolicy {
    type Error = Error;
    fn try_from(policy: PolicyDto) -> Result<Self, Error> {
        Ok(Self {
            groups: policy.groups.into_iter().map(SeatGroup::from).collect(),
            rules: policy
                .rules
                .into_iter()
                .enumerate()
                .map(|(i, rule)| {
                    PolicyRule::try_from(rule).map_err(|e| match e {
                        Error::InvalidInput { field, reason } => {
                            Error::invalid(field, format!("{field}[{i}]: {reason}"))
                        }
                        other => other,
                    })
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

impl From<SeatGroup> for GroupDto {
    fn from(group: SeatGroup) -> Self {
        let members = group
            .members
            .into_iter()
            .map(|m| {
                let kind = match &m {
                    Member::User(_) => MemberKind::User,
                    Member::Domain(_) => MemberKind::Domain,
                    Member::HardwareId(_) => MemberKind::HardwareId,
                    Member::Host(_) => MemberKind::Host,
                };
                MemberDto {
                    kind,
                    value: m.value().to_owned(),
                }
            })
            .collect();
        Self {
            name: group.name,
            members,
        }
    }
}

impl From<GroupDto> for SeatGroup {
    fn from(group: GroupDto) -> Self {
        let members = group
            .members
            .into_iter()
            .map(|m| match m.kind {
                MemberKind::User => Member::User(m.value),
                MemberKind::Domain => Member::Domain(m.value),
                MemberKind::HardwareId => Member::HardwareId(m.value),
                MemberKind::Host => Member::Host(m.value),
            })
            .collect();
        SeatGroup::new(group.name, members)
    }
}

impl From<PolicyRule> for RuleDto {
    fn from(rule: PolicyRule) -> Self {
        let only = |rule, seats, group, target| Self {
            rule,
            seats,
            group,
            target,
            level: None,
        };
        match rule {
            PolicyRule::Reserve { seats, group } => {
                only(RuleKind::Reserve, Some(seats), Some(group), None)
            }
            PolicyRule::Max { seats, target } => {
                let (kind, value) = match target {
                    Target::Group(v) => (TargetKind::Group, v),
                    Target::User(v) => (TargetKind::User, v),
                    Target::Host(v) => (TargetKind::Host, v),
                };
                let target = TargetDto { kind, value };
                only(RuleKind::Max, Some(seats), None, Some(target))
            }
            PolicyRule::Include { group } => only(RuleKind::Include, None, Some(group), None),
            PolicyRule::Exclude { group } => only(RuleKind::Exclude, None, Some(group), None),
            PolicyRule::Priority { level, group } => Self {
                level: Some(level),
                ..only(RuleKind::Priority, None, Some(group), None)
            },
        }
    }
}

impl TryFrom<RuleDto> for PolicyRule {
    type Error = Error;
    fn try_from(rule: RuleDto) -> Result<Self, Error> {
        let needs = |what: &str| {
            Error::invalid(
                "rules",
                format!("a `{}` rule needs {what}", rule_name(rule.rule)),
            )
        };
        let extra = |what: &str| {
            Error::invalid(
                "rules",
                format!("a `{}` rule takes no {what}", rule_name(rule.rule)),
            )
        };
        match rule.rule {
            RuleKind::Priority => {}
            _ if rule.level.is_some() => return Err(extra("level")),
            _ => {}
        }
        match rule.rule {
            RuleKind::Reserve | RuleKind::Include | RuleKind::Exclude | RuleKind::Priority
                if rule.target.is_some() =>
            {
                Err(extra("target"))
            }
            RuleKind::Include | RuleKind::Exclude | RuleKind::Priority if rule.seats.is_some() => {
                Err(extra("seats"))
            }
            RuleKind::Max if rule.group.is_some() => Err(extra("group (name it in target)")),
            RuleKind::Reserve => match (rule.seats, rule.group.clone()) {
                (Some(seats), Some(group)) => Ok(Self::Reserve { seats, group }),
                _ => Err(needs("seats and group")),
            },
            RuleKind::Max => match (rule.seats, rule.target.clone()) {
                (Some(seats), Some(target)) => Ok(Self::Max {
                    seats,
                    target: match target.kind {
                        TargetKind::Group => Target::Group(target.value),
                        TargetKind::User => Target::User(target.value),
                        TargetKind::Host => Target::Host(target.value),
                    },
                }),
                _ => Err(needs("seats and target")),
            },
            RuleKind::Include => match rule.group.clone() {
                Some(group) => Ok(Self::Include { group }),
                None => Err(needs("group")),
            },
            RuleKind::Exclude => match rule.group.clone() {
                Some(group) => Ok(Self::Exclude { group }),
                None => Err(needs("group")),
            },
            RuleKind::Priority => match (rule.level, rule.group.clone()) {
                (Some(level), Some(group)) => Ok(Self::Priority { level, group }),
                _ => Err(needs("level and group")),
            },
        }
    }
}

fn rule_name(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Reserve => "reserve",
        RuleKind::Max => "max",
        RuleKind::Include => "include",
        RuleKind::Exclude => "exclude",
        RuleKind::Priority => "priority",
    }
}

/// A license's policy.
#[derive(ApiResponse, Debug)]
pub enum PolicyOk {
    /// The policy as it is now.
    #[oai(status = 200)]
    Ok(Json<PolicyDto>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Licenses")]
impl PoliciesApi {
    /// Get a license's seat policy
    #[oai(
        path = "/licenses/:license_id/policy",
        method = "get",
        operation_id = "get_license_policy"
    )]
    async fn get(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
    ) -> Result<PolicyOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let license = state
            .admin
            .get_license(tenant, LicenseId::from_uuid(license_id.0))
            .await?;
        Ok(PolicyOk::Ok(Json(license.policy.into())))
    }

    /// Replace a license's seat policy
    ///
    /// The whole policy: groups and rules (an empty body `{}` clears it). Group names must be
    /// defined once and every rule's group defined; the reserves may add up to at most
    /// `seats_total` (400 `invalid_input` naming `groups` or `rules` otherwise; nothing
    /// changes). The policy applies to the next grant; it never evicts a seat already held.
    #[oai(
        path = "/licenses/:license_id/policy",
        method = "put",
        operation_id = "set_license_policy"
    )]
    async fn set(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
        body: Json<PolicyDto>,
    ) -> Result<PolicyOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let change = LicenseChange {
            policy: Some(SeatPolicy::try_from(body.0)?),
            ..Default::default()
        };
        let license = state
            .admin
            .update_license(
                tenant,
                LicenseId::from_uuid(license_id.0),
                change,
                &auth.0.actor(),
            )
            .await?;
        Ok(PolicyOk::Ok(Json(license.policy.into())))
    }
}
