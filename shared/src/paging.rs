//! Paging maths: pages start at 1 and hold at most [`MAX_PAGE_SIZE`] items.

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("page must be 1 or more")]
    Page,
    #[error("page_size must be between 1 and {MAX_PAGE_SIZE}")]
    PageSize,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    pub fn new(page: u32, page_size: u32) -> Result<Self, PageError> {
        if page == 0 {
            return Err(PageError::Page);
        }
        if page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(PageError::PageSize);
        }
        Ok(PageRequest { page, page_size })
    }

    /// Index range of this page within `total` items (empty past the last page).
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = (self.page as usize - 1).saturating_mul(self.page_size as usize);
        let start = start.min(total);
        let end = start.saturating_add(self.page_size as usize).min(total);
        start..end
    }

    pub fn total_pages(&self, total: usize) -> u32 {
        total
            .div_ceil(self.page_size as usize)
            .try_into()
            .unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds() {
        assert_eq!(PageRequest::new(0, 10), Err(PageError::Page));
        assert_eq!(PageRequest::new(1, 0), Err(PageError::PageSize));
        assert_eq!(PageRequest::new(1, 101), Err(PageError::PageSize));
        let p = PageRequest::new(3, 20).unwrap();
        assert_eq!(p.range(45), 40..45);
        assert_eq!(p.range(30), 30..30);
        assert_eq!(p.total_pages(45), 3);
        assert_eq!(p.total_pages(0), 0);
    }

    proptest! {
        #[test]
        fn pages_tile_the_items(total in 0usize..1000, size in 1u32..=100) {
            let pages = PageRequest::new(1, size).unwrap().total_pages(total);
            let mut next = 0;
            for page in 1..=pages + 1 {
                let r = PageRequest::new(page, size).unwrap().range(total);
                prop_assert_eq!(r.start, next.min(total));
                next = r.end;
            }
            prop_assert_eq!(next, total);
        }
    }
}
