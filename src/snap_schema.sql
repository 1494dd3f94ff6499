-- placeholder: replaced by the snapshot schema
PRAGMA user_version = 0;
