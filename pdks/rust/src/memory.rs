use crate::sys;

/// A block of kernel memory: the currency of every Extism call (inputs of host functions,
/// config keys, var values, HTTP bodies).
///
/// A `Memory` is a plain handle; it is not freed on drop. Blocks the plug-in does not free
/// are reclaimed by the kernel when the call ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    offset: u64,
    length: u64,
}

impl Memory {
    /// Allocate an uninitialised block of `length` bytes.
    ///
    /// Panics when the kernel is out of memory.
    pub fn alloc(length: u64) -> Memory {
        let offset = unsafe { sys::alloc(length) };
        assert!(
            offset != 0 || length == 0,
            "extism kernel: cannot allocate {} bytes",
            length
        );
        Memory { offset, length }
    }

    /// Allocate a block holding a copy of `data`.
    pub fn from_bytes(data: &[u8]) -> Memory {
        let memory = Memory::alloc(data.len() as u64);
        memory.store(data);
        memory
    }

    /// The live block starting at `offset` (e.g. one a host function returned), or `None` when
    /// `offset` is 0 or not the start of a block.
    pub fn find(offset: u64) -> Option<Memory> {
        if offset == 0 {
            return None;
        }
        match unsafe { sys::length(offset) } {
            0 => None,
            length => Some(Memory { offset, length }),
        }
    }

    /// The block's offset in kernel memory (what host functions take and return).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The block's length in bytes.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether the block holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Copy `data` into the start of the block (eight bytes per kernel call).
    ///
    /// Panics when `data` is longer than the block.
    pub fn store(&self, data: &[u8]) {
        assert!(
            data.len() as u64 <= self.length,
            "Memory::store: {} bytes do not fit in a block of {}",
            data.len(),
            self.length
        );
        let mut at = self.offset;
        let mut words = data.chunks_exact(8);
        for word in &mut words {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            unsafe { sys::store_u64(at, u64::from_le_bytes(le)) };
            at += 8;
        }
        for &byte in words.remainder() {
            unsafe { sys::store_u8(at, byte) };
            at += 1;
        }
    }

    /// Copy the whole block out of kernel memory (eight bytes per kernel call).
    pub fn load(&self) -> Vec<u8> {
        let mut data = vec![0u8; self.length as usize];
        let mut at = self.offset;
        let mut words = data.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&unsafe { sys::load_u64(at) }.to_le_bytes());
            at += 8;
        }
        for byte in words.into_remainder() {
            *byte = unsafe { sys::load_u8(at) };
            at += 1;
        }
        data
    }

    /// Give the block back to the kernel.
    pub fn free(self) {
        if self.offset != 0 {
            unsafe { sys::free(self.offset) };
        }
    }
}
