//! IMDSv2 emulator (being written).
