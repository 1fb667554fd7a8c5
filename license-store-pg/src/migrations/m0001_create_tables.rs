use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Id,
    TenantId,
    LicenseKey,
    Product,
    Seats,
    Overdraft,
    Status,
    ExpiresAt,
    LeaseTtlSeconds,
    HeartbeatIntervalSeconds,
    Entitlements,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TenantId,
    LicenseId,
    HardwareId,
    UserEmail,
    AcquiredAt,
    LastHeartbeatAt,
    ExpiresAt,
    EndedAt,
    EndReason,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    Hash,
    Scopes,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    ActorKind,
    ActorId,
    Action,
    Target,
    At,
    Details,
}

#[derive(DeriveIden)]
enum UsageDays {
    Table,
    LicenseId,
    Day,
    TenantId,
    PeakSeats,
    Denials,
}

/// `REFERENCES tenants (id)` from `table.tenant_id`.
fn tenant_fk(name: &str, table: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from_tbl(table)
        .from_col(Alias::new("tenant_id"))
        .to(Tenants::Table, Tenants::Id)
        .to_owned()
}

/// `REFERENCES licenses (tenant_id, id)` from `(table.tenant_id, table.license_id)`: a row can
/// only point at a license of its own tenant.
fn license_fk(name: &str, table: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from_tbl(table)
        .from_col(Alias::new("tenant_id"))
        .from_col(Alias::new("license_id"))
        .to_tbl(Licenses::Table)
        .to_col(Licenses::TenantId)
        .to_col(Licenses::Id)
        .to_owned()
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(ColumnDef::new(Tenants::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tenants::Name).string_len(128).not_null())
                    .col(
                        ColumnDef::new(Tenants::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tenants_name_key")
                    .table(Tenants::Table)
                    .col(Tenants::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Licenses::Table)
                    .col(ColumnDef::new(Licenses::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Licenses::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(Licenses::LicenseKey)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Licenses::Product).string_len(128).not_null())
                    .col(ColumnDef::new(Licenses::Seats).big_integer().not_null())
                    .col(ColumnDef::new(Licenses::Overdraft).big_integer().not_null())
                    .col(ColumnDef::new(Licenses::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Licenses::ExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Licenses::LeaseTtlSeconds)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Licenses::HeartbeatIntervalSeconds)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Licenses::Entitlements)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Licenses::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Licenses::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut tenant_fk("licenses_tenant_fk", Licenses::Table))
                    .to_owned(),
            )
            .await?;
        // Keyset pagination by id within a tenant, and the target of the (tenant, license)
        // foreign keys below.
        manager
            .create_index(
                Index::create()
                    .name("licenses_tenant_id_id_key")
                    .table(Licenses::Table)
                    .col(Licenses::TenantId)
                    .col(Licenses::Id)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("licenses_tenant_id_license_key_key")
                    .table(Licenses::Table)
                    .col(Licenses::TenantId)
                    .col(Licenses::LicenseKey)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Sessions::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Sessions::LicenseId).uuid().not_null())
                    .col(
                        ColumnDef::new(Sessions::HardwareId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Sessions::UserEmail).string_len(254).null())
                    .col(
                        ColumnDef::new(Sessions::AcquiredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::LastHeartbeatAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::EndedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Sessions::EndReason).string_len(16).null())
                    .foreign_key(&mut license_fk("sessions_license_fk", Sessions::Table))
                    .to_owned(),
            )
            .await?;
        // Live sessions only (partial indexes): the reaper scans by tenant and expiry, the
        // ledger rebuild by license.
        manager
            .create_index(
                Index::create()
                    .name("sessions_live_by_expiry_idx")
                    .table(Sessions::Table)
                    .col(Sessions::TenantId)
                    .col(Sessions::ExpiresAt)
                    .and_where(Expr::col(Sessions::EndedAt).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_live_by_license_idx")
                    .table(Sessions::Table)
                    .col(Sessions::LicenseId)
                    .col(Sessions::ExpiresAt)
                    .and_where(Expr::col(Sessions::EndedAt).is_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(ColumnDef::new(ApiKeys::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ApiKeys::TenantId).uuid().not_null())
                    .col(ColumnDef::new(ApiKeys::Name).string_len(128).not_null())
                    .col(ColumnDef::new(ApiKeys::Prefix).string_len(16).not_null())
                    .col(ColumnDef::new(ApiKeys::Hash).string_len(64).not_null())
                    .col(ColumnDef::new(ApiKeys::Scopes).json_binary().not_null())
                    .col(
                        ColumnDef::new(ApiKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiKeys::LastUsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ApiKeys::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(&mut tenant_fk("api_keys_tenant_fk", ApiKeys::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_keys_tenant_id_prefix_key")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::TenantId)
                    .col(ApiKeys::Prefix)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditEvents::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(AuditEvents::ActorKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::ActorId).text().null())
                    .col(
                        ColumnDef::new(AuditEvents::Action)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::Target).text().not_null())
                    .col(
                        ColumnDef::new(AuditEvents::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEvents::Details)
                            .json_binary()
                            .not_null(),
                    )
                    .foreign_key(&mut tenant_fk("audit_events_tenant_fk", AuditEvents::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_tenant_id_at_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UsageDays::Table)
                    .col(ColumnDef::new(UsageDays::LicenseId).uuid().not_null())
                    .col(ColumnDef::new(UsageDays::Day).date().not_null())
                    .col(ColumnDef::new(UsageDays::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(UsageDays::PeakSeats)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(UsageDays::Denials)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(UsageDays::LicenseId)
                            .col(UsageDays::Day),
                    )
                    .foreign_key(&mut license_fk("usage_days_license_fk", UsageDays::Table))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
