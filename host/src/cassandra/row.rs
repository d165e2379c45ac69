//! A statement's bound values, serialized once when the record is bound: each cell in the native
//! protocol's form (`[int]` length, then the bytes; -1 for null, -2 for unset), in marker order.
//! Sending it copies bytes; nothing is converted again, and no `CqlValue` is built per cell.

use scylla::frame::response::result::ColumnType;
use scylla::serialize::SerializationError;
use scylla::serialize::row::{RowSerializationContext, SerializeRow};
use scylla::serialize::value::SerializeValue;
use scylla::serialize::writers::{CellWriter, RowWriter};

const NULL: i32 = -1;
const UNSET: i32 = -2;

/// Serialized bound values of one statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundRow {
    buf: Vec<u8>,
    count: usize,
}

/// One serialized cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    /// A value's bytes.
    Value(&'a [u8]),
    /// Null: the column is cleared.
    Null,
    /// Unset: the column is left as it is.
    Unset,
}

impl BoundRow {
    /// An empty row with room for about `bytes` bytes of cells.
    pub fn with_capacity(bytes: usize) -> Self {
        Self { buf: Vec::with_capacity(bytes), count: 0 }
    }

    /// Appends `value` serialized as `typ`; the driver's type check applies.
    pub fn push<T: SerializeValue + ?Sized>(&mut self, value: &T, typ: &ColumnType<'_>) -> Result<(), String> {
        let start = self.buf.len();
        if let Err(e) = value.serialize(typ, CellWriter::new(&mut self.buf)) {
            self.buf.truncate(start);
            return Err(e.to_string());
        }
        self.count += 1;
        Ok(())
    }

    /// Appends a null cell.
    pub fn push_null(&mut self) {
        self.push_marker(NULL);
    }

    /// Appends an unset cell.
    pub fn push_unset(&mut self) {
        self.push_marker(UNSET);
    }

    fn push_marker(&mut self, marker: i32) {
        self.buf.extend_from_slice(&marker.to_be_bytes());
        self.count += 1;
    }

    /// Appends a cell of another row as it is.
    pub fn push_cell(&mut self, cell: Cell<'_>) {
        match cell {
            Cell::Null => self.push_null(),
            Cell::Unset => self.push_unset(),
            Cell::Value(bytes) => {
                self.buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                self.buf.extend_from_slice(bytes);
                self.count += 1;
            }
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Serialized size in bytes (for the batch byte cap).
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// The serialized bytes from `start` (a former [`BoundRow::byte_len`]) to the end: the cells
    /// pushed since, length prefixes included — an unambiguous encoding of them.
    pub fn bytes_since(&self, start: usize) -> &[u8] {
        &self.buf[start..]
    }

    /// Reads one byte of every cache line of the cells, so that the CPU fetches them now. A row is
    /// serialized into its request long after it was bound (once its partition's batch is full),
    /// when its bytes are no longer in cache; loading a batch's rows this way, one after another,
    /// lets the CPU fetch them all at once, where the driver's serialization would wait for each in
    /// turn (that wait was ~4 % of a sink task's CPU).
    pub fn touch(&self) -> u8 {
        self.buf.iter().step_by(64).fold(0, |acc, b| acc ^ b)
    }

    /// The cells, in order.
    pub fn cells(&self) -> impl Iterator<Item = Cell<'_>> {
        let mut rest = self.buf.as_slice();
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = i32::from_be_bytes(*len);
            let cell = match len {
                NULL => Cell::Null,
                UNSET => Cell::Unset,
                n => {
                    let (bytes, after) = tail.split_at(n as usize);
                    rest = after;
                    return Some(Cell::Value(bytes));
                }
            };
            rest = tail;
            Some(cell)
        })
    }
}

impl SerializeRow for BoundRow {
    fn serialize(&self, ctx: &RowSerializationContext<'_>, writer: &mut RowWriter) -> Result<(), SerializationError> {
        if ctx.columns().len() != self.count {
            return Err(SerializationError::new(std::io::Error::other(format!(
                "the statement has {} markers but {} values are bound",
                ctx.columns().len(),
                self.count
            ))));
        }
        for cell in self.cells() {
            let w = writer.make_cell_writer();
            match cell {
                Cell::Null => {
                    w.set_null();
                }
                Cell::Unset => {
                    w.set_unset();
                }
                Cell::Value(bytes) => {
                    w.set_value(bytes).map_err(SerializationError::new)?;
                }
            }
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scylla::frame::response::result::NativeType;
    use scylla::value::CqlValue;

    #[test]
    fn cells_round_trip_in_order() {
        let text = ColumnType::Native(NativeType::Text);
        let bigint = ColumnType::Native(NativeType::BigInt);
        let mut row = BoundRow::with_capacity(64);
        row.push("abc", &text).unwrap();
        row.push_null();
        row.push(&7_i64, &bigint).unwrap();
        row.push_unset();
        row.push(&CqlValue::Text(String::new()), &text).unwrap();
        assert_eq!(row.len(), 5);
        let cells: Vec<Cell<'_>> = row.cells().collect();
        assert_eq!(
            cells,
            vec![Cell::Value(b"abc"), Cell::Null, Cell::Value(&7_i64.to_be_bytes()), Cell::Unset, Cell::Value(b"")]
        );
        let mut copy = BoundRow::default();
        cells.iter().rev().for_each(|c| copy.push_cell(*c));
        assert_eq!(copy.cells().collect::<Vec<_>>(), cells.into_iter().rev().collect::<Vec<_>>());
    }

    #[test]
    fn touching_reads_one_byte_of_every_cache_line() {
        let mut row = BoundRow::default();
        assert_eq!(row.touch(), 0);
        let counting: Vec<u8> = (0..150).collect();
        row.push_cell(Cell::Value(&counting));
        // Bytes 0, 64 and 128 of [0, 0, 0, 150, 0, 1, 2, …]: 0, 60 and 124.
        assert_eq!(row.touch(), 60 ^ 124);
        row.push_cell(Cell::Value(&[0xff; 60]));
        assert_eq!(row.touch(), 60 ^ 124 ^ 0xff, "byte 192 is in the second cell");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_and_leaves_the_row_as_it_was() {
        let mut row = BoundRow::default();
        row.push(&1_i64, &ColumnType::Native(NativeType::BigInt)).unwrap();
        let before = row.clone();
        let error = row.push(&1_i64, &ColumnType::Native(NativeType::Text)).unwrap_err();
        assert!(error.contains("i64") || error.contains("Text"), "{error}");
        assert_eq!(row, before);
    }
}
