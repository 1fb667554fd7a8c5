use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_log_cuts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The last entry deleted (a checkpoint entry).
    pub seq: i64,
    /// 32 bytes: its hash.
    pub hash: Vec<u8>,
    pub at: DateTimeUtc,
    /// The first day the kept log serves.
    pub kept_from: Date,
    /// A JSON array of event bodies.
    pub carry: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
